"""The guided lessons Lifelines ships with: checkpoints on shipped presets (scenarios/presets.py), loaded by a
data migration, then the admin's to edit.

LESSONS[scenario][preset slug] is the lesson's checkpoints in order. Each fires at ``at`` (a step number, or
a match of kind/label/node, see scenarios/checkpoints.py), pauses the run and narrates; with a question the
learner predicts what happens next, and the run then shows the answer. A trigger must come *before* the step
that gives the answer away.
"""


def cp(at, narration, question="", choices=(), answer=None, explanation=""):
    return {"at": at, "narration": narration, "question": question, "choices": list(choices), "answer": answer,
            "explanation": explanation}


LESSONS = {
    "two-generals": {
        "lost-last-ack": [
            cp({"kind": "send", "label": "ACK 1", "node": "B"},
               "B got the proposal and sends ACK 1 back. B still plans to retreat: it knows A's plan, but not that "
               "A knows it agreed.",
               "When ACK 1 reaches A, what will A plan?",
               ["Attack: it now knows B got the proposal", "Retreat: it waits for more confirmation",
                "Nothing yet: it needs ACK 2 first"], 0,
               "A's badge turns to attack at t=2: it heard back, so it commits. B only commits when it hears that A "
               "heard, which is what ACK 2 is for."),
            cp({"kind": "drop"},
               "The last messenger, carrying ACK 2, is captured.",
               "What happens at dawn?",
               ["Both attack", "Both retreat", "A attacks alone while B retreats", "B attacks alone"], 2,
               "A committed when ACK 1 arrived; B waits for ACK 2, which never comes. no_lone_attack fails. Add a "
               "fourth message and its sender is the one left unsure: there is always a last message."),
        ],
        "more-messengers": [
            cp({"kind": "drop"},
               "The first copy is lost: each messenger is captured with probability 0.5, so A sends five copies of "
               "every message.",
               "With five copies at loss 0.5, what is the chance that at least one copy of a message gets through?",
               ["50%", "About 97%", "100%: five copies make it certain"], 1,
               "1 - 0.5^5 = 0.97. Redundancy buys odds, never certainty: the theory panel's q is the chance that "
               "the whole exchange still fails."),
            cp({"kind": "send", "label": "ACK 2"},
               "ACK 1 got through, so A now plans to attack and sends five copies of ACK 2.",
               "Can A ever be sure that B will attack too?",
               ["Yes, now that ACK 2 went out five times", "No: it would need an ACK 3, then B an ACK 4, and so on",
                "Yes, as soon as B replies at all"], 1,
               "Here B does attack (two copies of ACK 2 arrive), but A cannot know that. Certainty would need a last "
               "message known to have arrived, and no finite chain has one."),
        ],
    },
    "bully-election": {
        "worst-case": [
            cp({"kind": "send", "label": "ELECTION", "node": "P1"},
               "P1, the lowest id, notices that coordinator P8 is gone and sends ELECTION to every higher id.",
               "How many messages will the whole election take (ELECTION, OK and COORDINATOR together)?",
               ["n - 1 = 7", "2(n - 1) = 14", "n² - n - 2 = 54", "n² = 64"], 2,
               "54: each of P1..P7 sends ELECTION to all higher ids, every live one answers OK, and the winner "
               "announces itself. The lowest id noticing is the bully algorithm's worst case."),
            cp({"kind": "timer", "label": "ok timeout", "node": "P7"},
               "P7's OK timeout expires: it asked P8, and nobody higher answered.",
               "What does P7 do now?",
               ["Calls another election", "Declares itself coordinator and tells everyone lower",
                "Waits for P8 to come back"], 1,
               "Hearing no OK from a higher id, P7 bullies: it becomes coordinator and sends COORDINATOR to P1..P6. "
               "agreement and highest_live_leader both hold."),
        ],
        "best-case": [
            cp({"kind": "note", "node": "P7"},
               "This time P7, the highest live id, is the one who notices that P8 is gone.",
               "How many messages will this election need?",
               ["None", "n - 2 = 6 COORDINATOR messages", "n² - n - 2 = 54, as in the worst case"], 1,
               "P7 has nobody higher to ask, so it announces at once: 6 COORDINATOR messages, the best case."),
            cp({"kind": "check", "label": "highest_live_leader"},
               "Compare with the worst case: same crash, same outcome, 6 messages instead of 54. Who notices a "
               "failure matters as much as the algorithm."),
        ],
    },
    "byzantine-generals": {
        "om1-four-generals": [
            cp({"kind": "send", "label": "RETREAT", "node": "L3"},
               "Round 2: the traitor L3 relays RETREAT, although the commander ordered ATTACK.",
               "What will loyal L1 decide?",
               ["ATTACK", "RETREAT", "It cannot decide"], 0,
               "L1 takes the majority of what it heard: ATTACK from C, ATTACK via L2, RETREAT via L3, so ATTACK. "
               "With n = 4 > 3m one forged value is outvoted; IC1 and IC2 hold."),
        ],
        "om1-three-generals": [
            cp({"kind": "send", "label": "RETREAT", "node": "L2"},
               "The traitor L2 tells L1 that the commander said RETREAT. C in fact ordered ATTACK.",
               "L1 heard ATTACK from C and RETREAT via L2. What does L1 decide?",
               ["ATTACK: it trusts the commander", "RETREAT: a tie defaults to RETREAT", "It asks C again"], 1,
               "A tie is RETREAT, so loyal L1 disobeys its loyal commander and IC2 fails. L1 cannot tell a lying "
               "lieutenant from a lying commander: with oral messages OM(m) needs n > 3m."),
        ],
        "traitor-commander": [
            cp({"kind": "send", "label": "RETREAT", "node": "C"},
               "The commander is the traitor: it orders L2 to RETREAT and the others to ATTACK.",
               "After round 2, what do the loyal lieutenants decide?",
               ["They split: L2 retreats, L1 and L3 attack", "All ATTACK", "All RETREAT"], 1,
               "L2 hears RETREAT from C but ATTACK via L1 and L3; every lieutenant takes the same majority, ATTACK. "
               "IC1 (the loyal agree) holds although the commander lied."),
        ],
        "signed-three": [
            cp({"kind": "send", "label": "RETREAT", "node": "L2"},
               "The same traitor tells the same lie, but now every order carries the commander's signature.",
               "What does L1 do with the RETREAT relayed by L2?",
               ["Counts it: a tie, so RETREAT", "Rejects it: C's signature on RETREAT is forged",
                "Decides RETREAT to be safe"], 1,
               "L2 cannot forge C's signature, so L1 discards the value, keeps V = {ATTACK} and obeys. Signatures "
               "let three generals tolerate one traitor."),
        ],
    },
    "token-ring": {
        "lost-token": [
            cp({"kind": "drop"},
               "The TOKEN from N2 to N3 is lost. N4 is still waiting to enter its critical section.",
               "What happens next?",
               ["N4 waits forever: the ring is stuck", "N2 notices and sends the token again",
                "The monitor N0 times out and makes a new token", "N3 makes a new token"], 2,
               "N0 waits T = 16 ticks, one full rotation (every hop and every critical section) plus one, presumes "
               "the token lost and makes generation 2. N4 enters its critical section at t=20."),
            cp({"kind": "check", "label": "mutual_exclusion"},
               "Mutual exclusion held: the old token was really lost, so only one token ever existed. The next "
               "lesson asks what happens when the token was only late."),
        ],
        "false-loss-no-generations": [
            cp({"kind": "timer", "label": "loss timeout"},
               "N0 has not seen the token for 21 ticks, one full rotation plus one, and makes a new one. But the "
               "token was only delayed, by 25 ticks, and it is still on its way.",
               "Generation numbers are off. What happens when the late token turns up?",
               ["It is discarded as stale", "Two tokens circulate, so two nodes can be inside together",
                "The monitor absorbs it"], 1,
               "Two valid tokens exist from the moment N0 makes the second: 'at most one valid token' fails at "
               "t=21. At t=42 N3 enters while N2 is inside: mutual_exclusion fails too. Without generations nobody "
               "can tell the late token from its replacement."),
        ],
        "false-loss-generations": [
            cp({"kind": "timer", "label": "loss timeout"},
               "The same delay and the same timeout, but every token now carries a generation number: N0 makes "
               "generation 2.",
               "What happens to the late token of generation 1?",
               ["Both tokens circulate and two nodes enter together",
                "The first node that has seen generation 2 discards it",
                "N0 waits for it before using generation 2"], 1,
               "Generation 1 stopped being valid when N0 made generation 2, so only one valid token ever exists; N3 "
               "discards the stale one at t=34 and mutual exclusion holds. A timeout cannot tell slow from dead; "
               "the generation number makes the wrong guess harmless."),
        ],
    },
    "gossip": {
        "optimal-eight": [
            cp({"kind": "send", "label": "CALL"},
               "Eight people each know one secret. In a call both sides tell each other everything they know.",
               "What is the fewest number of calls after which all 8 know all 8 secrets?",
               ["7", "2n - 4 = 12", "2n = 16", "n(n - 1)/2 = 28"], 1,
               "2n - 4 calls for n >= 4, and no schedule does better. Count the CALLs in the summary: 12."),
            cp({"kind": "send", "label": "CALL", "node": "P1"},
               "P1 has heard from P5..P8. Now P1 calls P2 while P3 calls P4; next P1 calls P3 and P2 calls P4.",
               "After those two rounds, who knows all 8 secrets?",
               ["Only P1", "P1, P2, P3 and P4", "Everyone"], 1,
               "After round 6 P1..P4 know everything; P5..P8 learn it when P1 phones each back: 4 more calls."),
        ],
        "dropped-call": [
            cp({"kind": "drop"},
               "The first call, P5 to P1, is dropped. The schedule goes on as planned; nobody calls back.",
               "At the end, who will lack P5's secret?",
               ["Nobody: later calls make up for it", "P2, P3 and P4", "Only P1", "Everyone but P5"], 1,
               "P1 learns P5's secret only when it phones P5 back, after it has already shared with P2..P4. "
               "complete fails: a fixed schedule has no slack."),
        ],
    },
    "coffee-shop": {
        "retries": [
            cp({"kind": "send", "label": "RespondActivityTaskFailed", "node": "Barista"},
               "PrepareBeverage's first attempt fails: the espresso machine jammed.",
               "Temporal's default policy starts at 1 s and doubles. If attempts 2 and 3 fail as well, how long "
               "does Temporal wait before attempt 4?",
               ["1 s", "3 s", "4 s", "8 s"], 2,
               "1 s, 2 s, then 4 s: the initial interval times 2^(n-1), capped at 100 s. Attempt 4 succeeds."),
            cp({"kind": "timer", "label": "retry PrepareBeverage"},
               "Retry 1 fires, one second after the failure.",
               "How many events does each failed attempt add to the workflow's event history?",
               ["One: ActivityTaskStarted", "None: only the final attempt is recorded", "Two: started and failed"],
               1,
               "The history stays at 11 events through the retries; event 12 records attempt 4 with its result. "
               "A retrying activity costs no history."),
        ],
        "worker-crash": [
            cp({"kind": "crash", "node": "Workflow"},
               "The workflow worker crashes while the barista makes the latte. Its memory is gone.",
               "What does the restarted worker need in order to carry on?",
               ["Nothing: Temporal keeps the workflow's variables",
                "The event history: it runs the workflow code again over it (replay)",
                "A snapshot the worker wrote before the crash"], 1,
               "Temporal stores events, not memory. The worker restarts with an empty cache, and its next workflow "
               "task carries events 1-15 to replay."),
            cp(95,
               "The restarted worker gets the whole history and runs the workflow function from the top.",
               "Will ProcessPayment and PrepareBeverage run again?",
               ["Yes, both", "No: their results are read from the history", "Only ProcessPayment"], 1,
               "Replay is deterministic: a completed activity's result comes from the history, so nothing is "
               "charged or brewed twice (no_rerun_on_replay holds) and the workflow schedules UpdateInventory."),
        ],
        "double-charge": [
            cp({"kind": "crash", "node": "Payment"},
               "The Payment worker crashes 80 ms into ProcessPayment: the card is charged, the result never sent.",
               "What does Temporal do?",
               ["Marks the payment done: the card was charged",
                "Waits for the start-to-close timeout (10 s), then retries the activity",
                "Fails the workflow at once"], 1,
               "Temporal cannot see inside the worker. No result arrives, so after the 10 s start-to-close timeout "
               "it schedules attempt 2."),
            cp({"kind": "timer", "label": "retry ProcessPayment"},
               "Attempt 2 of ProcessPayment is about to run. The activity sends no idempotency key.",
               "How many times will the customer be charged?",
               ["Once", "Twice", "Never: the first charge was rolled back"], 1,
               "The retry repeats the side effect: charged 2x, refunded 0x, and "
               "charged_implies_delivered_or_refunded fails. Retried activities must be idempotent."),
        ],
    },
    "choreography-vs-orchestration": {
        "lost-event-choreography": [
            cp({"kind": "send", "label": "OrderPlaced", "node": "Orders"},
               "Choreography: there is no central coordinator, only services and a broker.",
               "Who tells Payment to charge the card?",
               ["An orchestrator calls Payment", "Nobody: Payment reacts to the OrderPlaced event",
                "Orders calls Payment directly"], 1,
               "The broker hands OrderPlaced to Payment, which reacts to it. Each step is triggered by the event "
               "before it."),
            cp({"kind": "drop"},
               "PaymentCharged is lost on its way to the broker, and Payment has already acknowledged OrderPlaced.",
               "Who notices the missing event and recovers?",
               ["The broker redelivers it", "Payment publishes it again",
                "Nobody: every service waits for an event that never comes", "Orders cancels after a timeout"], 2,
               "The order's progress lives only in events in flight, and nobody owns it: at its deadline the order "
               "is stuck, charged but neither shipped nor refunded."),
        ],
        "lost-event-orchestration": [
            cp({"kind": "drop"},
               "The same loss: Payment's Charged reply to the Orchestrator is lost.",
               "What happens now?",
               ["The order is stuck, as in choreography",
                "The Orchestrator times out and retries Charge with the same idempotency key",
                "Payment notices and answers again"], 1,
               "The Orchestrator owns the workflow: after 100 ms without an answer it retries Charge."),
            cp({"kind": "timer", "label": "activity timeout"},
               "The Orchestrator's activity timeout fires and it sends Charge again.",
               "Is the card charged twice?",
               ["Yes: Payment charges again", "No: the idempotency key lets Payment answer without charging again",
                "No: the first charge is refunded"], 1,
               "Payment recognises the key and answers Charged again; at_most_one_charge holds and the order "
               "completes."),
        ],
        "lost-event-outbox": [
            cp({"kind": "send", "label": "PaymentCharged", "node": "Payment"},
               "Payment charged O1 and, in the same local transaction, wrote PaymentCharged as a row of its outbox. "
               "The relay, polling the outbox every 10 ms, publishes the row now; it marks it published only when "
               "the Broker confirms. This publish is about to be lost on the wire, as in the stuck choreography.",
               "Does O1 still complete?",
               ["No: nobody owns the order, so it is stuck as before",
                "Yes: the row stays unpublished until the Broker confirms, so the relay publishes it again",
                "Yes: the Broker redelivers it", "Yes: Orders places the order again"], 1,
               "No confirm comes back, so 100 ms later the relay publishes PaymentCharged #2 from the outbox; the "
               "Broker confirms it, hands it to Inventory, and the saga carries on."),
            cp({"kind": "timer", "label": "unconfirmed", "node": "Payment"},
               "100 ms without a confirm: PaymentCharged is still an unpublished row, and the relay publishes it "
               "again. It cannot tell a lost publish from a lost confirm.",
               "Had only the Broker's confirm been lost, what would this second publish cause?",
               ["A second charge", "A duplicate PaymentCharged, which Inventory skips since it already reserved O1",
                "Nothing: a broker refuses a message it has seen"], 1,
               "An outbox publishes at least once (Richardson, Microservices Patterns, ch. 3): after a lost confirm "
               "the event goes out twice, so every consumer must be idempotent. Here the publish itself was lost, "
               "so #2 is the only PaymentCharged the Broker sees, and O1 completes."),
        ],
    },
    "payment-gateway": {
        "double-charge": [
            cp({"kind": "drop"},
               "The 200 OK is lost on its way back to Checkout, yet the money was taken.",
               "What will Checkout do when its 1000 ms timeout fires?",
               ["Assume success", "Retry the charge, not knowing the first one succeeded",
                "Tell the customer the payment failed"], 1,
               "A timeout cannot tell a lost request from a lost response, so Checkout retries after a jittered "
               "backoff."),
            cp({"kind": "timer", "label": "backoff", "node": "Checkout"},
               "The retry goes out. The request carries no idempotency key.",
               "How many times is order-1 charged?",
               ["Once: Primary recognises the repeat", "Twice", "Never"], 1,
               "Nothing tells Primary that the request repeats a payment already made: ch_P1 and ch_P2, and "
               "at_most_once_charge fails."),
        ],
        "idempotent-retry": [
            cp({"kind": "timer", "label": "backoff", "node": "Checkout"},
               "The same lost 200 OK and the same retry, but every CHARGE carries the idempotency key key-order-1.",
               "What does Primary do with the retried CHARGE?",
               ["Charges again", "Replays its saved response: ch_P1, no new charge",
                "Rejects it with a duplicate error"], 1,
               "The provider stored its response under the key: the retry gets ch_P1 back and Primary's charges "
               "stay at 1."),
        ],
    },
    "event-driven-notes": {
        "dual-write": [
            cp({"kind": "send", "label": "201 Created", "node": "UserService"},
               "UserService committed u1 and answers 201 Created. Right after this it crashes, before publishing "
               "UserCreated to the broker.",
               "Will the notes projection ever learn about u1?",
               ["Yes: UserService publishes it when it restarts", "Yes: the broker redelivers it",
                "No: the event only ever existed in the crashed process"], 2,
               "Two separate writes, database then broker, with a crash between them: the event is lost for "
               "good, and projection_consistent fails."),
            cp({"kind": "send", "label": "CreateNote"},
               "The client creates a note for u1, whose account exists.",
               "What does the notes service answer?",
               ["201 Created", "404 Unknown user", "500 Internal error"], 1,
               "The projection never saw UserCreated for u1, so it refuses notes for a user who exists."),
        ],
        "outbox": [
            cp({"kind": "send", "label": "TX"},
               "UserService asks UserDB to commit u1 and its UserCreated event in one transaction, the event as a "
               "row of the outbox table.",
               "UserService will crash right after this commit, before it publishes anything. Does u1 reach the "
               "notes projection?",
               ["No: the event is lost, as without an outbox", "Yes: the relay publishes it from the outbox",
                "Only once UserService restarts"], 1,
               "The relay polls the outbox every 10 ms and publishes what it finds, whatever happens to "
               "UserService; NotesDB knows u1 at t=24."),
            cp({"kind": "send", "label": "CreateNote"},
               "The client creates a note for u1.",
               "What does the notes service answer this time?",
               ["201 Created", "404 Unknown user"], 0,
               "The projection learnt u1 from the relayed event. Compare with the dual-write lesson's 404."),
        ],
    },
    "microservices-order": {
        "breaker": [
            cp({"kind": "timer", "label": "call timeout", "node": "OrderService"},
               "O1's Pay call timed out after 200 ms: PaymentService is down. Orders keep coming, one every 100 ms.",
               "The breaker opens after 3 failures in a row. What happens to an order once it is open?",
               ["It waits 200 ms for its own timeout like the others", "It is rejected at once, without a call",
                "It is queued until PaymentService is back"], 1,
               "At t=470 the breaker opens and O5 is rejected at once: fail fast, and no call leaves through an open "
               "breaker."),
            cp({"kind": "recover", "node": "PaymentService"},
               "PaymentService is back at t=1000.",
               "When does OrderService call it again?",
               ["With the very next order", "At t=1470: the breaker waits 1000 ms, then lets one trial call through",
                "Never: an open breaker stays open"], 1,
               "The breaker cannot see that the service is back: after its open timeout it half-opens, the trial "
               "call succeeds at t=1490 and it closes."),
        ],
        "leak": [
            cp({"kind": "timer", "label": "call timeout", "node": "OrderService"},
               "O1's Pay call timed out. Compensation is switched off.",
               "What happens to the 2 units of stock reserved for O1?",
               ["Released, since O1 is rejected", "They stay held: nothing releases them", "They are sold"], 1,
               "Without compensation nothing undoes Reserve: stock_conserved fails as soon as O1 is rejected."),
            cp({"kind": "recover", "node": "PaymentService"},
               "PaymentService is back, but the damage is done: every rejected order still holds its stock. In the "
               "breaker lesson each rejection sends Release, and all the stock comes back."),
        ],
    },
    "two-phase-commit": {
        "all-yes": [
            cp({"kind": "send", "label": "VOTE", "node": "P1"},
               "P1 got PREPARE and votes yes. With that vote it promises to commit if told to: from now on it may "
               "not abort on its own.",
               "How many messages will the whole commit take with 3 participants?",
               ["6: PREPARE and VOTE", "9: PREPARE, VOTE and COMMIT", "12: PREPARE, VOTE, COMMIT and ACK",
                "It depends on the order the votes arrive"], 2,
               "12 = 4n: n PREPARE, n VOTE, n COMMIT and n ACK. Without the acknowledgements it is 3n; the ACKs "
               "only let C forget the transaction."),
            cp({"kind": "timer", "label": "commit logged", "node": "C"},
               "C has three yes votes and has force-written COMMIT to its log before telling anyone.",
               "Why write the decision down before sending it?",
               ["So that after a crash C still knows what it may have told the participants",
                "To make the commit faster", "Because the participants read C's log"], 0,
               "A participant may already have committed when C crashes; the log record makes C repeat the same "
               "decision after it recovers, never the other one."),
        ],
        "coordinator-crash": [
            cp({"kind": "crash", "node": "C"},
               "C crashes at t=12: it had all three yes votes and was still writing its decision.",
               "What may P1, P2 and P3 safely do now?",
               ["Abort after a timeout", "Commit, since everyone voted yes",
                "Nothing: C may have decided either way, so they must wait"], 2,
               "They voted yes, so aborting alone could contradict a COMMIT that C logged, and committing could "
               "contradict an ABORT. They can only ask around and wait."),
            cp({"kind": "timer", "label": "decision timeout", "node": "P1"},
               "P1 has heard nothing for 40 ms and asks P2 and P3 whether they know the decision.",
               "What will they answer?", ["COMMIT", "ABORT", "UNCERTAIN: they voted yes and heard nothing either"], 2,
               "All three are uncertain, so cooperative termination cannot help: the orange 'blocked' bands last "
               "until C comes back. This is why 2PC is called blocking."),
            cp({"kind": "recover", "node": "C"},
               "C recovers at t=200. Its log holds no decision record.",
               "What does C decide?",
               ["COMMIT, since all voted yes", "ABORT: without a COMMIT record nobody can have committed",
                "It asks the participants to vote again"], 1,
               "No COMMIT was logged, so none was sent: aborting is safe, and every participant aborts. Three-phase "
               "commit and Paxos Commit exist to avoid this wait."),
        ],
    },
    "chandy-lamport": {
        "money-in-flight": [
            cp({"kind": "send", "label": "MARKER", "node": "P1"},
               "At t=6 P1 starts the snapshot: it records its balance, 82, and sends a MARKER on each outgoing "
               "channel before anything else. P3's TRANSFER $10 to P1 is still on the wire.",
               "The $10 reaches P1 right after P1 recorded. Where does the snapshot count it?",
               ["In P1's recorded balance", "In the record of channel P3->P1: it was in flight at the cut",
                "In P3's recorded balance", "Nowhere: it arrived too late"], 1,
               "P3 sent it before recording, so P3's record no longer has it, and P1 recorded before it came. P1 "
               "records everything arriving on P3->P1 until P3's MARKER arrives on it: the 10 is money in flight."),
            cp({"kind": "deliver", "label": "MARKER", "node": "P2"},
               "P2 gets its first MARKER, from P1. Behind it on the same channel comes the TRANSFER $11 that P1 sent "
               "at t=7, after recording.",
               "What does P2 record for the channel P1->P2?",
               ["Nothing: the channel is FIFO, so whatever P1 sent before its MARKER has already arrived",
                "The $11, since it is on its way", "It keeps recording P1->P2 until the next MARKER"], 0,
               "The channel of the first MARKER is recorded empty. The $11 left P1 after P1 recorded, so it belongs "
               "after the cut: counting it would count it twice."),
            cp({"kind": "deliver", "label": "MARKER", "node": "P3"},
               "P3's first MARKER comes from P2. The TRANSFER $18 that P1 sent at t=5 is still travelling to P3.",
               "The recorded balances will add up to 272. What will the whole snapshot add up to?",
               ["272: money in flight cannot be counted", "300, all the money: the channels hold the other 28",
                "More than 300: some transfers are counted twice"], 1,
               "P3 records the $18 on P1->P3 before P1's MARKER arrives, and P1 recorded the $10 on P3->P1: "
               "272 + 28 = 300, with 6 = n(n - 1) markers."),
        ],
        "two-initiators": [
            cp({"kind": "send", "label": "MARKER", "node": "P3"},
               "At t=6 P1 and P3 both start a snapshot, neither knowing of the other.",
               "What do the processes end up with?",
               ["Two snapshots that someone must merge", "One snapshot: each process records once, at its first "
                "MARKER, whoever sent it", "An inconsistent snapshot: concurrent initiators break the algorithm"], 1,
               "A MARKER carries no initiator: a process that has recorded treats every later MARKER as the end of "
               "that channel's recording. Concurrent initiations merge into one consistent snapshot."),
            cp({"kind": "deliver", "label": "MARKER", "node": "P1"},
               "P3's MARKER reaches P1, which recorded at t=6 as an initiator: it closes the channel P3->P1, whose "
               "record holds the $10 P3 sent before it recorded.",
               "How many MARKERs will the run send in all?",
               ["6 = n(n - 1), as with one initiator", "12: two initiators, twice the markers", "4"], 0,
               "Every process sends one MARKER on each outgoing channel when it records, and it records once: "
               "n(n - 1) = 6 however many initiate. P2 sends the last two when its first MARKER comes."),
            cp({"kind": "deliver", "label": "MARKER", "node": "P2"},
               "P2's first MARKER comes from P3: it records its balance and sends its own MARKERs. P1's MARKER is "
               "still on its way to P2.",
               "What does P2 do when P1's MARKER arrives?",
               ["Records its balance again", "Stops recording the channel P1->P2: it has already recorded",
                "Starts a second snapshot"], 1,
               "Recording happens once per process. Later MARKERs only close their channels; whatever arrived on "
               "P1->P2 in between is that channel's money in flight."),
        ],
        "no-fifo": [
            cp({"kind": "deliver", "label": "TRANSFER", "node": "P2"},
               "P1 recorded 100 at t=6 and sent its MARKER to P2, then sent P2 a TRANSFER $8. These channels are "
               "not FIFO: the $8 arrives first.",
               "P2 records when P1's MARKER arrives. What goes wrong?",
               ["The 8 is counted twice: in P1's recorded 100 and again in P2's balance",
                "The 8 is missed by the snapshot", "Nothing: the snapshot is still consistent"], 0,
               "P1's record was taken before it sent the 8; P2's record is taken after it received it. The snapshot "
               "shows a receive whose send it does not show: the cut is not consistent."),
            cp({"kind": "check", "label": "consistent cut"},
               "P2 has recorded its balance, 8 included: consistent cut turns vermillion.",
               "What will the snapshot add up to, with 300 in the system?",
               ["300", "308: the 8 counts twice", "292: the 8 is lost"], 1,
               "Chandy and Lamport need FIFO channels so that nothing sent after a MARKER arrives before it. TCP "
               "gives that; without it, markers must be piggybacked or messages numbered."),
        ],
    },
    "raft": {
        "first-election": [
            cp({"kind": "timer", "label": "election timeout", "node": "S3"},
               "All five servers start as followers of term 0, each with its own random election timeout between "
               "150 and 300 ms. S3's runs out first: it heard from no leader.",
               "S3 becomes a candidate for term 1 and votes for itself. How many votes does it need to lead?",
               ["2", "3 of the 5, its own included", "All 5"], 1,
               "A majority: 3 of 5. Each server grants one vote per term, so two candidates can never both get a "
               "majority in the same term: at most one leader per term (election safety)."),
            cp({"kind": "deliver", "label": "Request", "node": "S1"},
               "S3 leads term 1 and sends empty AppendEntries as heartbeats. The client, not knowing who leads, "
               "sends command a to S1.",
               "S1 is a follower. What does it do with command a?",
               ["Appends it to its own log", "Tells the client that S3 leads", "Forwards it to every server"], 1,
               "Only the leader accepts commands. S1 answers Redirect with the leader it heard from, and the "
               "client sends a again to S3 (the arrow tagged #2)."),
            cp({"kind": "deliver", "label": "Request", "node": "S3"},
               "The leader S3 gets command a. It appends 1:a (term 1, command a) to its log and sends "
               "AppendEntries carrying it to every follower.",
               "When is a committed?",
               ["As soon as S3 has it in its log", "Once a majority, S3 included, stores it",
                "Once all five servers store it"], 1,
               "Two followers' acknowledgements make 3 of 5: S3's commit_index moves to 1 and it answers the "
               "client OK. The followers learn the new commit index from the next AppendEntries. Count the "
               "arrows: 8 = 2(n-1) per command."),
        ],
        "leader-crash": [
            cp({"kind": "crash", "node": "S3"},
               "S3, the leader of term 1, crashes at t=530. Every log holds 1:a 1:b; a is committed, but the "
               "acknowledgements for b are lost with S3.",
               "How do the other servers find out?",
               ["S3 warns them before it dies", "Nothing tells them: the heartbeats stop, and the first follower "
                "whose timeout runs out stands for term 2", "The client tells them"], 1,
               "Raft detects a dead leader only by silence. Each follower's election timeout was reset by the last "
               "heartbeat; the shortest one runs out first."),
            cp({"kind": "timer", "label": "election timeout", "node": "S4"},
               "S4's timeout runs out at t=732. Its log is 1:a 1:b, and it only knows that a is committed.",
               "Once S4 wins term 2, what does it append first?",
               ["Nothing: it waits for the client's next command", "A no-op entry of term 2: committing it commits "
                "1:b too", "b again, as a new entry of term 2"], 1,
               "A leader may only count replicas of entries of its own term (section 5.4.2). The no-op '2:-' is "
               "such an entry; once a majority holds it, 1:b before it is committed too. b is not lost, and the "
               "client's retry of b gets OK at once."),
            cp({"kind": "recover", "node": "S3"},
               "S3 restarts at t=1000. Its term (1), its vote and its log 1:a 1:b survived on disk; its role and "
               "commit index did not.",
               "What happens to S3 now?",
               ["It carries on as leader of term 1", "S4's first AppendEntries of term 2 makes it a follower and "
                "fills in 2:- 2:c", "It starts an election for term 2"], 1,
               "It restarts as a follower. S4's next heartbeat carries term 2 and the missing entries; S3's log "
               "ends exactly like everyone else's."),
        ],
        "split-vote": [
            cp({"kind": "timer", "label": "election timeout", "node": "S3"},
               "S1 stood for term 1 at t=164. S3's own timeout runs out at t=171, before S1's RequestVote reaches "
               "it (10 ms per hop), and S2's at t=173.",
               "S3 and S2 become candidates too and vote for themselves. Who wins term 1?",
               ["S1, because it asked first", "Nobody: a leader of 4 servers needs 3 votes and they are split",
                "Both S1 and S3"], 1,
               "S4 votes for S1, the rest for themselves: 2, 1 and 1 votes. Nobody reaches 3, and the candidates "
               "wait for their timeouts to run out again."),
            cp({"kind": "note", "node": "S1"},
               "S1 stands again at t=357 for term 2, and this time it wins at t=377.",
               "Why did the second election work when the first one split?",
               ["S1 had the longest log", "Every timeout was drawn afresh at random: S1's ran out well before the "
                "others', so its RequestVote arrived first everywhere", "The client chose S1"], 1,
               "Randomized timeouts make a split unlikely to repeat. With timeouts of 150-152 ms (the preset "
               "'Timeouts without randomness') every vote splits and no leader is ever elected."),
        ],
        "old-leader-partition": [
            cp({"kind": "fault"},
               "At t=300 the network splits: S3 (leader of term 1), S1 and the client on one side; S2, S4 and S5 "
               "on the other.",
               "The client will send command a to S3. What can S3 do with it?",
               ["Commit it with S1's acknowledgement", "Append it, but never commit it: 2 of 5 is no majority",
                "Refuse it"], 1,
               "S3 still believes it leads, appends 1:a and sends it everywhere, but only S1 answers. Its "
               "commit_index stays 0 and the client gets no OK."),
            cp({"kind": "timer", "label": "election timeout", "node": "S5"},
               "On the other side, S5 hears no heartbeat and stands for term 2.",
               "Can S5 become leader while S3 still believes it leads term 1?",
               ["No: there already is a leader", "Yes: S2, S4 and S5 are a majority, and the terms tell the two "
                "leaders apart", "Only after the partition heals"], 1,
               "S5 wins term 2. Two servers think they lead, but in different terms, and only S5 can commit: "
               "election safety is about one leader per term."),
            cp({"kind": "send", "label": "AppendEntries reply", "node": "S3"},
               "The partition healed at t=900. The first message of term 2 reached S3: it stepped down to "
               "follower. Its log still holds 1:a, which never committed.",
               "What becomes of S3's entry 1:a?",
               ["S3 sends it to the new leader", "It stays forever: entries are never deleted", "When the leader "
                "sends a different entry for index 1, S3 deletes 1:a and takes the leader's"], 2,
               "A follower drops a conflicting entry and all after it (Figure 2, AppendEntries step 3). The client "
               "retries a at S5; S3 ends with 2:a 2:b 2:c like everyone."),
        ],
        "lagging-follower": [
            cp({"kind": "crash", "node": "S3"},
               "S5 has been down since t=250 and missed a, b and c. Now the leader S3 crashes as well, leaving "
               "S1, S2 and S4.",
               "Can three of five servers elect a new leader?",
               ["No: two servers are down", "Yes, but only with all three votes", "Only S5 could"], 1,
               "3 of 5 is a majority. Here S2 and S4 split term 2 and S2 wins term 3 with S1's and S4's votes."),
            cp({"kind": "recover", "node": "S5"},
               "S5 comes back at t=1100 with an empty log. S2 set nextIndex for S5 to 4 when it won (its log "
               "length + 1).",
               "What happens to S2's first AppendEntries to S5, which says 'after entry 3 of term 1'?",
               ["S5 appends it", "S5 refuses (it has no entry 3); S2 lowers nextIndex by one and tries again "
                "until their logs agree", "S2 gives up on S5"], 1,
               "The arrows tagged n=3, n=2, n=1 are the back-off: each refusal lowers nextIndex by one until the "
               "consistency check passes at index 0, and S5 gets a, b and c in one message."),
        ],
    },
    "paxos": {
        "one-proposer": [
            cp({"kind": "send", "label": "PROMISE", "node": "A1"},
               "A1 got PREPARE 1.1. It had promised nothing, so it promises never to accept a ballot below 1.1, and "
               "reports that it has accepted nothing yet.",
               "How many messages will it take until P1 learns that v1 is chosen?",
               ["6: a PREPARE and a PROMISE per acceptor", "9: P1 needs only a majority of answers",
                "12: PREPARE, PROMISE, ACCEPT and ACCEPTED for each of the 3 acceptors",
                "It depends on which acceptor answers first"], 2,
               "4m = 12: P1 sends to every acceptor and each answers both requests, two round trips in all. A "
               "majority of answers is what P1 waits for, not what the acceptors send."),
            cp({"kind": "send", "label": "ACCEPT", "node": "P1"},
               "P1 has promises from A1 and A2, a majority of three, and neither reports an accepted value.",
               "Which value may P1 propose in ballot 1.1?",
               ["v1, its own: no promise reported an accepted value", "It must wait for A3's promise first",
                "Whatever the acceptors suggest"], 0,
               "Phase 2a: a proposer must take the value of the highest-numbered proposal its majority reported. "
               "None was reported, so it is free to propose its own."),
            cp({"kind": "note"},
               "A1 and A2 have accepted (1.1, v1): a majority accepted one value in one ballot, so v1 is chosen.",
               "When does P1 find out?",
               ["Now, at the same moment", "One message delay later, when a majority of ACCEPTED replies arrive",
                "Never: it has to ask the acceptors"], 1,
               "A value is chosen the moment a majority accepts it, but a proposer learns it only from the "
               "ACCEPTED replies: at t=4, two round trips after it started."),
        ],
        "crashed-acceptors": [
            cp({"kind": "send", "label": "PREPARE", "node": "P1"},
               "A4 and A5 crashed before the run began. P1 sends PREPARE 1.1 to all five acceptors anyway: it "
               "cannot tell a crashed acceptor from a slow one.",
               "Can a value still be chosen?",
               ["Yes: A1, A2 and A3 are a majority of five", "No: Paxos needs every acceptor",
                "Only once A4 or A5 recovers"], 0,
               "Any majority will do, because any two majorities share an acceptor. With m = 5, up to 2 may "
               "crash; a third crash would stop progress, never safety."),
            cp({"kind": "drop"},
               "The PREPARE to A4 ends in a cross: A4 is down and answers nothing.",
               "How many messages will this run send in all?",
               ["20 = 4m", "16 = 4m - 2c: the 2 crashed acceptors send no PROMISE and no ACCEPTED",
                "12: only the majority is counted"], 1,
               "P1 still sends PREPARE and ACCEPT to all 5; only the 3 live acceptors answer: 5 + 3 + 5 + 3 = 16."),
        ],
        "dueling-proposers": [
            cp({"kind": "send", "label": "NACK"},
               "A1 has just promised P2's ballot 1.2, which is higher than P1's 1.1, and tells P1 with a NACK. "
               "P1's ACCEPT for 1.1 is already on its way.",
               "What will the acceptors do with P1's ACCEPT 1.1?",
               ["Accept it: it was sent first", "Refuse it with a NACK: they promised 1.2",
                "Accept it only if P2 agrees"], 1,
               "A promise for 1.2 forbids accepting anything numbered below 1.2. P1's ballot is dead."),
            cp({"kind": "send", "label": "ACCEPT", "node": "P2"},
               "P2 has its majority of promises and sends ACCEPT (1.2, v2). At the same tick P1, preempted, has "
               "sent PREPARE 2.1.",
               "Will ballot 1.2 get v2 chosen?",
               ["Yes: P2 has a majority of promises", "No: PREPARE 2.1 reaches the acceptors first, so they "
                "refuse 1.2", "Yes, and v1 will be chosen too"], 1,
               "The same pattern repeats with every ballot: each new PREPARE overtakes the other proposer's "
               "ACCEPT. Watch the preparing and accepting bands alternate on P1 and P2."),
            cp({"kind": "end"},
               "Five ballots each, and no value chosen: P1 and P2 preempted each other every time, a livelock. "
               "Safety held throughout; only progress was lost.",
               "What would let one of them finish?",
               ["A random wait before retrying, so one ballot runs alone", "More acceptors",
                "Larger ballot numbers"], 0,
               "Paxos guarantees progress only when one proposer runs alone long enough (FLP forbids a "
               "deterministic guarantee). Open 'Dueling proposers with random backoff' to see it converge."),
        ],
        "random-backoff": [
            cp({"kind": "send", "label": "NACK"},
               "The same duel: A1 promised P2's ballot 1.2 and tells P1 that its ballot 1.1 is preempted. This "
               "time a preempted proposer waits a random 1..8 ticks before its next ballot.",
               "What becomes of P2's ballot 1.2?",
               ["It gets v2 chosen: nobody preempts it while P1 waits", "It is preempted again, as before",
                "Both v1 and v2 get chosen"], 0,
               "While P1 waits, P2's ACCEPT meets no higher promise: A1, A2 and A3 accept (1.2, v2) at t=4."),
            cp({"kind": "timer", "label": "backoff over", "node": "P1"},
               "P1's wait is over and it starts ballot 2.1, still hoping for v1. It does not know that v2 was "
               "chosen at t=4.",
               "Which value will P1 propose in ballot 2.1?",
               ["v1, its own", "v2: its PROMISEs report v2 accepted in ballot 1.2, the highest",
                "None: it sees that it lost and stops"], 1,
               "Phase 2a makes every later ballot carry the value already chosen, so v2 stays the only value "
               "chosen and P1 learns it too."),
        ],
        "second-proposer-adopts": [
            cp({"kind": "timer", "label": "start", "node": "P2"},
               "v1 was chosen at t=3 by A1 and A2 (A3 never got P1's ACCEPT). Now P2 starts, wanting v2. Its "
               "PREPARE to A1 will be lost.",
               "P2 will hear only from A2 and A3. Can it still find out about v1?",
               ["Yes: A2 belongs to both majorities and reports (1.1, v1)",
                "No: A3 knows nothing, so P2 may propose v2", "Only if P1 tells it"], 0,
               "Two majorities of three always share an acceptor, here A2. Its PROMISE carries the proposal it "
               "accepted, and P2 must propose that value."),
            cp({"kind": "send", "label": "ACCEPT", "node": "P2"},
               "P2 proposes v1, not its own v2, in ballot 1.2.",
               "Once A3 accepts (1.2, v1) too, how many values have been chosen?",
               ["One: v1, in ballot 1.1 and again in 1.2", "Two: one per ballot", "None until P1 agrees"], 0,
               "Different ballots may choose, but always the same value: that is Lamport's P2, and the live check "
               "'at most one value chosen' stays green."),
        ],
    },
}



def ship(apps, scenarios=None):
    """Write the shipped checkpoints (of ``scenarios``, or all) in a data migration, leaving alone a preset the
    admin deleted and a lesson that already has checkpoints."""
    Preset = apps.get_model("scenarios", "Preset")
    Checkpoint = apps.get_model("scenarios", "Checkpoint")
    for scenario, lessons in LESSONS.items():
        if scenarios is not None and scenario not in scenarios:
            continue
        for slug, checkpoints in lessons.items():
            preset = Preset.objects.filter(scenario=scenario, slug=slug).first()
            if preset is None or Checkpoint.objects.filter(preset=preset).exists():
                continue
            for order, c in enumerate(checkpoints):
                at = c["at"]
                Checkpoint.objects.create(
                    preset=preset, order=order, at_seq=at if isinstance(at, int) else None,
                    match=at if isinstance(at, dict) else None, narration=c["narration"], question=c["question"],
                    choices=c["choices"], answer=c["answer"], explanation=c["explanation"])


def unship(apps, scenarios=None):
    Checkpoint = apps.get_model("scenarios", "Checkpoint")
    for scenario, lessons in LESSONS.items():
        if scenarios is None or scenario in scenarios:
            Checkpoint.objects.filter(preset__scenario=scenario, preset__slug__in=list(lessons)).delete()
