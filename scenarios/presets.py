"""The lessons Lifelines ships with, one list per scenario; loaded by a data migration, then the admin's to edit.

Each entry: (slug, name, description in Markdown, params, seed, faults, featured).
"""
PRESETS = {
    "two-generals": [
        ("lost-last-ack", "The last messenger is captured",
         "Three messages, no random loss, and the **last** one dropped by hand: its sender attacks alone. "
         "No chain length fixes this: there is always a last message.",
         {"rounds": 3, "loss": 0}, 0, [{"action": "drop", "match": {"nth": 3}}], True),
        ("more-messengers", "Five messengers per message",
         "Redundancy buys odds, not certainty: compare the theory panel's *q* with one messenger.",
         {"rounds": 3, "loss": 0.5, "messengers": 5}, 1, [], False),
    ],
    "bully-election": [
        ("worst-case", "The worst case: n^2 - n - 2 messages",
         "P1 notices that P8 is gone. Count the messages in the summary: **54** = 8^2 - 8 - 2.",
         {"n": 8, "detector": "P1", "crashed": "P8"}, 0, [], True),
        ("best-case", "The best case: the runner-up notices",
         "P7 notices and bullies at once: n - 2 COORDINATOR messages.",
         {"n": 8, "detector": "P7", "crashed": "P8"}, 0, [], False),
        ("comeback", "The old coordinator comes back",
         "P5 recovers after the election and bullies its way back to leadership.",
         {"n": 5}, 0, [{"action": "recover", "node": "P5", "at": 15}], False),
    ],
    "byzantine-generals": [
        ("om1-four-generals", "OM(1): four generals, one traitor",
         "n = 4 > 3m: the loyal lieutenants agree, whatever the traitor L3 says. Try every strategy.",
         {"n": 4, "m": 1, "traitors": "L3", "strategy": "flip"}, 0, [], True),
        ("om1-three-generals", "OM(1): three generals, one traitor",
         "n = 3 is not more than 3m: **no guarantee holds**. Watch IC2 turn red.",
         {"n": 3, "m": 1, "traitors": "L2", "strategy": "flip"}, 0, [], True),
        ("traitor-commander", "A traitorous commander splits the army",
         "The commander says ATTACK to some and RETREAT to others; OM(1) still makes the loyal agree.",
         {"n": 4, "m": 1, "traitors": "C", "strategy": "split"}, 0, [], False),
        ("signed-three", "SM(1): signatures rescue three generals",
         "With signed messages three generals tolerate one traitor.",
         {"n": 3, "m": 1, "mode": "sm", "traitors": "L2", "strategy": "flip"}, 0, [], False),
    ],
    "token-ring": [
        ("lost-token", "The lost token",
         "The third TOKEN is dropped; the monitor N0 times out and regenerates it with the next generation.",
         {"requests": "N2@0,N4@0", "cs_time": 2}, 0, [{"action": "drop", "match": {"label": "TOKEN", "nth": 3}}],
         True),
        ("false-loss-no-generations", "A late token, no generations: two tokens",
         "The token is only late, but the monitor makes a new one: with generation numbers off two valid tokens "
         "exist from that moment, and two nodes end up in the critical section together.",
         {"generations": False}, 0, [{"action": "delay", "match": {"label": "TOKEN", "nth": 3}, "by": 25}], True),
        ("false-loss-generations", "A late token, with generations",
         "The same delay, generation numbers on: the old token is no longer valid and is discarded.",
         {"generations": True}, 0, [{"action": "delay", "match": {"label": "TOKEN", "nth": 3}, "by": 25}], False),
        ("crashed-idle-ack", "A crashed node skipped with acknowledgements",
         "N3 is down; with acknowledged passing the ring routes around it.",
         {"requests": "N2@0,N4@0", "cs_time": 2, "ack": True}, 0, [{"action": "crash", "node": "N3", "at": 0}], False),
    ],
    "gossip": [
        ("optimal-eight", "2n - 4 calls for eight people",
         "The optimal schedule: 12 calls and everyone knows all 8 secrets.", {"n": 8, "mode": "optimal"}, 0, [], True),
        ("hypercube", "Parallel rounds on a hypercube",
         "16 people, 4 rounds: log2 n, the lower bound.", {"n": 16, "mode": "parallel"}, 0, [], False),
        ("epidemic", "Push-pull epidemic", "Random calls, everyone done in O(log n) rounds.",
         {"n": 32, "mode": "epidemic"}, 1, [], False),
        ("dropped-call", "A dropped call", "Drop the first call and see who never learns what.",
         {"n": 6, "mode": "optimal"}, 0, [{"action": "drop", "match": {"label": "CALL", "nth": 1}}], False),
    ],
    "coffee-shop": [
        ("retries", "Retries with Temporal's default policy",
         "PrepareBeverage fails three times: retries wait 1 s, 2 s, 4 s.",
         {"fail_activity": "PrepareBeverage", "failures": 3}, 0, [], True),
        ("worker-crash", "The workflow worker crashes",
         "The new worker replays the event history and does not re-run completed activities.",
         {}, 0, [{"action": "crash", "node": "Workflow", "at": 1000}, {"action": "recover", "node": "Workflow", "at": 2000}],
         False),
        ("double-charge", "An activity worker crashes mid-charge",
         "Without idempotency the retry charges the customer twice.",
         {"idempotent": False}, 0, [{"action": "crash", "node": "Payment", "at": 100},
                                    {"action": "recover", "node": "Payment", "at": 1000}], True),
        ("deadline", "A deadline cuts the retries short",
         "PrepareBeverage keeps failing under a schedule-to-close timeout of 5 s (deadline **t=5235**). Its second "
         "attempt fails at **t=4255**; the next would start at t=6255, after the deadline, so Temporal stops "
         "retrying **then** and times the activity out at t=4255, not at the deadline. The saga refunds the charge.",
         {"fail_activity": "PrepareBeverage", "failures": 10, "schedule_to_close_ms": 5000}, 0, [], False),
    ],
    "choreography-vs-orchestration": [
        ("lost-event-choreography", "Lost event, choreography: stuck",
         "The PaymentCharged event is lost; nobody owns the order and it is stuck.",
         {"mode": "choreography", "fault": "lost_event"}, 0, [], True),
        ("lost-event-orchestration", "Lost event, orchestration: retried",
         "The same loss: the orchestrator times out, retries and completes.",
         {"mode": "orchestration", "fault": "lost_event"}, 0, [], True),
        ("lost-event-outbox", "Lost event, choreography with an outbox: published again",
         "The same loss, but Payment writes PaymentCharged to its outbox in the same transaction as the charge: "
         "the relay publishes it again when the Broker does not confirm, and the order completes.",
         {"mode": "choreography", "fault": "lost_event", "outbox": True}, 0, [], True),
        ("out-of-stock", "Out of stock: the saga compensates",
         "Payment is refunded when inventory fails.", {"mode": "orchestration", "fault": "out_of_stock"}, 0, [], False),
    ],
    "payment-gateway": [
        ("double-charge", "The double charge without idempotency",
         "The response to a successful charge is lost; the retry charges again.",
         {"idempotency": False, "lose_response": True}, 0, [], True),
        ("idempotent-retry", "The same retry with an idempotency key",
         "The gateway replays its saved response: one charge.", {"idempotency": True, "lose_response": True}, 0, [],
         True),
        ("failover", "The primary provider is down", "Payments fail over to the fallback provider.",
         {"primary_down": True, "payments": 2}, 0, [], False),
        ("jitter", "503s with decorrelated jitter", "Three 503s, retried with decorrelated jitter.",
         {"gateway_error": "503", "error_count": 3, "jitter": "decorrelated"}, 0, [], False),
    ],
    "event-driven-notes": [
        ("dual-write", "The dual-write problem",
         "Without an outbox the User service crashes between commit and publish: the event is lost for good.",
         {"outbox": False, "crash_before_publish": True}, 0, [], True),
        ("outbox", "The transactional outbox", "The same crash with the outbox: the relay publishes later.",
         {"outbox": True, "crash_before_publish": True}, 0, [], True),
        ("duplicate", "A duplicate without deduplication",
         "The relay crashes after publishing and publishes again; without dedupe the event applies twice.",
         {"relay_crash_after_publish": True, "dedupe": False}, 0, [], False),
    ],
    "microservices-order": [
        ("breaker", "A dead payment service trips the breaker",
         "Timeouts pile up, the breaker opens, half-opens and closes when the service returns.",
         {"orders": 20, "dead_service": "PaymentService", "dead_until_ms": 1000}, 0, [], True),
        ("leak", "No compensation: stock leaks",
         "Payment fails and nobody releases the reserved stock.",
         {"dead_service": "PaymentService", "compensation": False}, 0, [], False),
        ("outbox", "Relay crash with the outbox", "The OrderCreated event still reaches the notification service.",
         {"relay_crash": True, "outbox": True, "orders": 3}, 0, [], False),
        ("refused-fast", "A down service that refuses fails fast",
         "UserService is down until t=1000 and **refuses** connections: each call fails after one round trip "
         "(**20 ms**), so the breaker opens at **t=230**. With the default, a service that **hangs**, each call holds "
         "its caller for the whole timeout and the breaker opens only at t=410 (Nygard, *Release It!*).",
         {"dead_service": "UserService", "down_mode": "refuse", "dead_until_ms": 1000}, 0, [], False),
        ("no-dedupe", "A redelivered event, no dedupe: notified twice",
         "The Queue's ack for OrderCreated is lost, so the Queue delivers it **again** (at-least-once). With dedupe "
         "off, NotificationService acts twice and the customer is told twice: **notified_at_most_once** turns red. "
         "An idempotent consumer remembers what it handled.",
         {"orders": 1, "dedupe": False}, 0, [{"action": "drop", "match": {"label": "ack"}}], False),
    ],
    "two-phase-commit": [
        ("all-yes", "Everyone votes yes",
         "Three participants vote yes and C commits: count the arrows, **12** = 4n (PREPARE, VOTE, COMMIT, ACK).",
         {"n": 3}, 0, [], True),
        ("one-no", "One participant votes no",
         "P2 votes no and aborts at once; C must abort everyone else. Atomicity: all or nothing.",
         {"n": 3, "votes": "P2=no"}, 0, [], False),
        ("coordinator-crash", "The coordinator crashes after the votes",
         "C crashes after collecting three yes votes and before deciding. The participants ask each other, "
         "nobody knows, and all of them stay **blocked** until C recovers and aborts: why 3PC and "
         "consensus-based commit exist.",
         {"n": 3}, 0, [{"action": "crash", "node": "C", "at": 12}, {"action": "recover", "node": "C", "at": 200}],
         True),
    ],
    "chandy-lamport": [
        ("money-in-flight", "A snapshot that records money in flight",
         "P1 starts the snapshot at t=6 while transfers are on the wire. The balances it records add up to only "
         "**272**; the other **28** is caught in flight on P1->P3 and P3->P1, and the total is all **300**. "
         "Count the MARKERs: **6** = n(n - 1).",
         {"n": 3}, 0, [], True),
        ("two-initiators", "Two initiators at once",
         "P1 and P3 both start a snapshot at t=6, neither knowing of the other. Each process still records once, "
         "at its first MARKER: one consistent snapshot of **300**, and still **6** markers.",
         {"n": 3, "initiator": "P1,P3"}, 0, [], True),
        ("no-fifo", "Channels that are not FIFO",
         "The same algorithm on channels that reorder: P1's TRANSFER $8, sent after its MARKER, reaches P2 first. "
         "P2 counts the 8 and so did P1: the snapshot records **308** of the 300 in the system.",
         {"n": 3, "fifo": False}, 9, [], False),
    ],
    "raft": [
        ("first-election", "The first election and three commands",
         "Five servers start as followers. The first whose random timeout runs out asks for votes, wins term 1 "
         "and replicates the client's commands a, b and c: **8** = 2(n-1) messages to elect, 8 per command.",
         {}, 0, [], True),
        ("leader-crash", "The leader crashes",
         "S3 leads term 1 and crashes at t=530, with a committed and b stored everywhere but not yet known "
         "committed. A new leader takes over in term 2 and **no committed entry is lost**.",
         {}, 0, [{"action": "crash", "node": "S3", "at": 530}, {"action": "recover", "node": "S3", "at": 1000}],
         True),
        ("split-vote", "A split vote",
         "Four servers, three of them time out within 10 ms: nobody gets 3 votes in term 1. Fresh random "
         "timeouts settle it in term 2.",
         {"n": 4}, 2, [], False),
        ("equal-timeouts", "Timeouts without randomness",
         "Election timeouts between 150 and 152 ms: every server stands at once, every vote splits, term after "
         "term, and no leader is ever elected. Randomness is what makes Raft's elections end.",
         {"n": 4, "election_timeout_min": 150, "election_timeout_max": 152}, 0, [], False),
        ("old-leader-partition", "An old leader cut off in a minority",
         "At t=300 leader S3, S1 and the client are cut off from the other three. S3 takes command a but **cannot "
         "commit** it; the majority elects a leader for term 2. On heal S3 steps down and its entry is overwritten.",
         {}, 0, [{"action": "partition", "groups": [["S3", "S1", "client"], ["S2", "S4", "S5"]], "at": 300,
                  "until": 900}], True),
        ("lagging-follower", "A lagging follower catches up",
         "S5 is down while a, b and c are committed, and the leader crashes too. When S5 returns, the new leader "
         "finds where their logs agree by **backing off nextIndex** one entry at a time.",
         {}, 0, [{"action": "crash", "node": "S5", "at": 250}, {"action": "crash", "node": "S3", "at": 700},
                 {"action": "recover", "node": "S5", "at": 1100}], False),
    ],
    "paxos": [
        ("one-proposer", "One proposer, three acceptors",
         "P1 alone proposes v1: two round trips, PREPARE/PROMISE then ACCEPT/ACCEPTED. Count the arrows: **12** = "
         "4m with m = 3 acceptors.",
         {"proposers": 1, "acceptors": 3, "starts": "P1@0"}, 0, [], True),
        ("crashed-acceptors", "Two of five acceptors down",
         "A4 and A5 have crashed, yet A1, A2 and A3 are a majority of five: v1 is still chosen, in 16 = 4m - 2c "
         "messages.",
         {"proposers": 1, "acceptors": 5, "starts": "P1@0"}, 0,
         [{"action": "crash", "node": "A4", "at": 0}, {"action": "crash", "node": "A5", "at": 0}], False),
        ("dueling-proposers", "Dueling proposers: a livelock",
         "P1 and P2 start one tick apart and retry at once when preempted. Each new PREPARE overtakes the other's "
         "ACCEPT, so **nothing is ever chosen** until max_ballots stops the run.",
         {"proposers": 2, "acceptors": 3, "starts": "P1@0,P2@1", "backoff": "none", "max_ballots": 5}, 0, [],
         True),
        ("random-backoff", "Dueling proposers with random backoff",
         "The same duel, but a preempted proposer waits a random 1..8 ticks: P2's ballot finishes alone and v2 is "
         "chosen; P1 then has to propose v2 too.",
         {"proposers": 2, "acceptors": 3, "starts": "P1@0,P2@1", "backoff": "random", "max_ballots": 5}, 0, [],
         False),
        ("second-proposer-adopts", "A later proposer adopts the chosen value",
         "v1 is chosen at t=3. P2 starts at t=5 with v2, hears only A2 and A3, and A3 never accepted v1: one "
         "acceptor in both majorities is enough to make P2 propose **v1**.",
         {"proposers": 2, "acceptors": 3, "starts": "P1@0,P2@5", "backoff": "none"}, 0,
         [{"action": "drop", "match": {"label": "ACCEPT", "dst": "A3"}, "at": 2},
          {"action": "drop", "match": {"label": "PREPARE", "dst": "A1"}, "at": 5}], True),
    ],
}


def ship(apps, scenarios=None):
    """Write the shipped presets (of ``scenarios``, or all) in a data migration; an admin's edits are overwritten."""
    Preset = apps.get_model("scenarios", "Preset")
    for scenario, items in PRESETS.items():
        if scenarios is None or scenario in scenarios:
            for order, (slug, name, description, params, seed, faults, featured) in enumerate(items):
                Preset.objects.update_or_create(scenario=scenario, slug=slug, defaults={
                    "name": name, "description": description, "params": params, "seed": seed, "faults": faults,
                    "order": order, "featured": featured})


def unship(apps, scenarios=None):
    Preset = apps.get_model("scenarios", "Preset")
    for scenario, items in PRESETS.items():
        if scenarios is None or scenario in scenarios:
            Preset.objects.filter(scenario=scenario, slug__in=[item[0] for item in items]).delete()
