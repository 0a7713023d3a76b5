"""What each scenario page says before the long text: the problem in two or three sentences a newcomer can follow,
and three or four things to watch for in the diagram. Its picture is static/img/scenarios/<slug>.svg.

Plain data, keyed by scenario slug; faithful to each scenario's problem and theory text (simulations/scenarios/).
"""

STORIES = {
    "two-generals": {
        "short": "Generals A and B win only if they attack at the same dawn, and every messenger who crosses the "
                 "enemy's valley may be captured. You will see the chain ATTACK AT DAWN, ACK 1, ACK 2 cross "
                 "between the two lifelines, and what each general decides at the end.",
        "watch": [
            "Watch the last arrow: whoever sent it can never know it arrived.",
            "A grey arrow ending in a cross is a captured messenger: its receiver retreats, its sender may still attack.",
            "The 'attacks' band marks a general who attacks; one band alone breaks no_lone_attack, shown in vermillion.",
            "More messengers per message raise q = 1 - p^k in the theory panel: better odds, never certainty.",
        ],
    },
    "bully-election": {
        "short": "Processes P1..Pn must agree on a coordinator, the highest live id, after the old one crashes. "
                 "You will see the process that notices send ELECTION to every higher id, OK come back down, "
                 "and the winner announce itself to everyone below with COORDINATOR.",
        "watch": [
            "ELECTION arrows only go up to higher ids; the ones sent to the crashed coordinator are grey: no answer.",
            "An OK tells its receiver to stand down: that lifeline's band turns from 'electing' to 'waiting'.",
            "The highest live process hears no OK; when its timer fires it sends COORDINATOR and takes the 'coordinator' band.",
            "Count the arrows: P1 noticing is the worst case, n^2 - n - 2 messages; P(n-1) noticing costs n - 2.",
        ],
    },
    "byzantine-generals": {
        "short": "A commander and its lieutenants must all ATTACK or all RETREAT, but some of them, maybe the "
                 "commander, are traitors who lie. You will see the commander's order go out, every lieutenant "
                 "relay what it heard to the others, and each loyal one decide by majority.",
        "watch": [
            "The purple lifeline is the traitor: compare what it relays with what it received.",
            "Each loyal lieutenant ends with a band, ATTACK or RETREAT; IC1 holds when all the loyal bands match.",
            "With three generals and one traitor IC2 turns vermillion: L1 cannot tell a lying commander from a liar beside it.",
            "Switch to signed messages (sm): the same three generals agree, since nobody can forge a loyal signature.",
        ],
    },
    "token-ring": {
        "short": "Processes N0..N(n-1) pass a single TOKEN around a ring, and only its holder may enter the critical "
                 "section. You will see the token hop from lifeline to lifeline, the 'in CS' bands take turns, and "
                 "N0, the monitor, make a new token when the old one does not come back in time.",
        "watch": [
            "Never more than one 'in CS' band at a time: that is mutual exclusion.",
            "A TOKEN arrow's tag is its generation (g1, g2): a new one means N0's timeout fired.",
            "A late token looks just like a lost one: with generations off, 'at most one valid token' fails the "
            "moment N0 makes its replacement, and later two 'in CS' bands overlap.",
            "A 'wants CS' band ends within one rotation, in ring order: the token never skips a waiting process.",
        ],
    },
    "gossip": {
        "short": "Each person knows one secret, and in a telephone call both sides tell each other everything they "
                 "know. You will see CALL and REPLY arrows pair people up until every lifeline carries the "
                 "'knows all' band, and count how few calls or rounds that took.",
        "watch": [
            "Each CALL arrow is answered by a REPLY: after it both people know the same set of secrets.",
            "The optimal schedule needs exactly 2n - 4 calls for n >= 4: count the CALL arrows.",
            "'knows all' reaches P1..P4 first, then spreads as P1 calls the others back.",
            "Drop a single call and the 'complete' check turns vermillion: someone never learns a secret.",
        ],
    },
    "coffee-shop": {
        "short": "A customer orders a latte and a Temporal workflow runs the order as four activities: payment, "
                 "the barista, inventory and a text message. You will see the server retry a failing activity "
                 "with growing waits, and a restarted worker replay its history instead of redoing finished work.",
        "watch": [
            "The Temporal lifeline's 'backoff' band is the wait before a retry: 1 s, 2 s, 4 s by default.",
            "A retried ActivityTask arrow carries its attempt as a tag: #2, #3, #4.",
            "Crash the Workflow worker: after recovery it replays the history and runs no finished activity again.",
            "Crash Payment mid-charge without idempotency: the retry charges again and Payment's band reads 'charged twice'.",
        ],
    },
    "choreography-vs-orchestration": {
        "short": "An order needs a payment, a stock reservation, shipping and a notification, and a refund if the "
                 "item is out of stock. You will see the same saga run two ways: services reacting to events on a "
                 "Broker, or an Orchestrator that calls each service and owns every order.",
        "watch": [
            "In choreography, follow the events through the Broker lifeline: OrderPlaced, PaymentCharged, StockReserved.",
            "Lose PaymentCharged: nobody notices, the Orders band turns 'stuck' and the deadline check turns vermillion; "
            "with outbox on, the relay publishes it again (#2) and the order completes.",
            "The same loss in orchestration: the Orchestrator's timer fires, it sends Charge #2 and the order completes.",
            "Out of stock: the Refund compensation runs before the order is cancelled.",
        ],
    },
    "payment-gateway": {
        "short": "A checkout charges a card through a payment manager and a gateway, and when an answer is lost it "
                 "cannot know whether money moved, so it retries. You will see a retry without an idempotency key "
                 "charge twice, and the same key make the gateway replay its saved answer instead.",
        "watch": [
            "Find the grey 200 OK: the charge went through, but Checkout never heard and its timer fires.",
            "The first CHARGE arrow's tag is its idempotency key; the retry is tagged #2.",
            "Without a key the Primary lifeline gets a 'charged twice' band and at_most_once_charge turns vermillion.",
            "Checkout's 'backoff' band is the wait before each retry; with jitter a different seed moves it.",
        ],
    },
    "event-driven-notes": {
        "short": "A User service and a Notes service each own a database and talk only through a broker; Notes keeps "
                 "its own copy of users, learned from UserCreated events. You will see how committing and then "
                 "publishing can lose an event, how an outbox and a relay prevent it, and why duplicates must be skipped.",
        "watch": [
            "Without the outbox UserService crashes after COMMITTED: that user's UserCreated never leaves; its note gets a 404.",
            "With the outbox the user and its outbox row commit in one TX; the Relay polls the table (READ OUTBOX) and sends MARK PUBLISHED only after the Broker's ACK.",
            "A Relay crash after publishing sends UserCreated twice: without dedupe NotesDB shows 'applied twice'.",
            "At the end the projection must equal the active users: projection_consistent in the invariants panel.",
        ],
    },
    "microservices-order": {
        "short": "An order service calls the user, product, inventory and payment services in turn over HTTP, each "
                 "behind a circuit breaker, then announces OrderCreated. You will see a dead service turn into "
                 "timeouts, the breaker open and fail fast, and a rejected order release the stock it reserved.",
        "watch": [
            "Timed-out Pay calls end grey; after breaker_threshold of them OrderService's band turns 'breaker open'.",
            "While the breaker is open no Pay arrow leaves OrderService: the order is rejected at once.",
            "'half-open' lets one trial call through; a success closes the breaker again.",
            "Every OrderRejected after Reserved needs a Release; with compensation off, stock_conserved turns vermillion.",
        ],
    },
    "two-phase-commit": {
        "short": "One transaction touches several participants, and either all of them commit it or all abort. "
                 "You will see the coordinator C send PREPARE, every participant answer with its VOTE, and C send "
                 "COMMIT only if every vote was yes, then collect an ACK from each.",
        "watch": [
            "Count the arrows when nothing fails: n PREPARE, n VOTE, n COMMIT or ABORT and n ACK, 4n in all.",
            "A single no vote turns that lifeline's band to 'aborted' at once, and C must send ABORT to everyone.",
            "A 'prepared' band is a promise: that participant voted yes and may no longer decide on its own.",
            "Crash C after the votes: the participants ask each other, all are uncertain, and the orange 'blocked' bands last until C recovers.",
        ],
    },
    "chandy-lamport": {
        "short": "Processes keep sending each other money, and we want the total without stopping anyone. "
                 "You will see an initiator record its balance and send a MARKER down every channel, each process "
                 "record at its first MARKER, and the transfers still in flight recorded on the channels.",
        "watch": [
            "The start of each 'recording' band is where that process recorded its balance: joined up, they are the cut.",
            "A TRANSFER that lands in a 'recording' band before the MARKER on its channel is money in flight: it goes into that channel's record.",
            "Count the MARKERs: one on each channel, n(n - 1) in all, whoever initiates and however many do.",
            "Turn fifo off: a TRANSFER can overtake a MARKER and be counted twice, and the invariants turn vermillion.",
        ],
    },
    "raft": {
        "short": "Five servers keep one log of a client's commands in the same order, even when servers crash and the "
                 "network splits. You will see a server whose random timeout runs out ask for votes, the winner "
                 "send AppendEntries, and each command count as committed once a majority stores it.",
        "watch": [
            "The bands name role and term: 'candidate t1' asks for votes, 'leader t1' won a majority of them.",
            "Each node's log reads term:command ('1:a 1:b'); commit_index says how much of it is committed.",
            "Crash the leader: the heartbeats stop, a follower's timeout runs out and a higher term begins.",
            "Cut the leader off in a minority: it can append but never commit, and steps down when it hears a higher term.",
        ],
    },
    "paxos": {
        "short": "Proposers want a group of acceptors to agree on one value, even when acceptors crash, messages "
                 "are lost and proposers compete. You will see each ballot in two round trips: PREPARE and "
                 "PROMISE, then ACCEPT and ACCEPTED, with the ballot number n.i on every arrow.",
        "watch": [
            "A value is chosen once a majority of acceptors accept it in one ballot; the narration says when.",
            "A PROMISE reports what the acceptor already accepted, and the proposer must then propose that value.",
            "Crashed acceptors answer nothing, yet any majority suffices: two of three, three of five.",
            "Two proposers without backoff: the preparing and accepting bands alternate and NACKs fly, nothing chosen.",
        ],
    },
}
