"""The challenges Lifelines ships with, loaded by a data migration, then the admin's to edit.

Each challenge is a dict:

- ``slug``, ``scenario`` (a scenario slug), ``title``, ``story`` (Markdown)
- the set-up: ``params`` (missing ones take their defaults), ``seed``, ``faults`` (base faults: part of the
  set-up, not of the learner's budget); ``free_params`` maps a parameter the learner may change to the
  values allowed (``None``: any valid value)
- ``goal``: ``{"invariant": name}`` (or a list of names: any of them) must fail, or
  ``{"outcome": {summary_field: value}}`` must hold at the end
- the budget: ``max_faults``, ``kinds`` (fault actions allowed), ``live_only`` (no fault script: only
  interventions made while the run plays)
- ``possible``; ``why`` (Markdown): for impossible challenges the theorem and its source, for possible ones
  the lesson shown after success.
"""

CHALLENGES = [
    {
        "slug": "one-general-alone",
        "scenario": "two-generals",
        "title": "Make one general attack alone",
        "story": "Three messengers cross the valley, and none is ever lost by chance (loss = 0). "
                 "General A attacks only after hearing back; B attacks once it knows the plan. "
                 "**Capture a single messenger** so that one general charges into the city alone.",
        "params": {"rounds": 3, "loss": 0}, "seed": 0, "faults": [],
        "goal": {"invariant": "no_lone_attack"},
        "max_faults": 1, "kinds": ["drop"], "live_only": False, "possible": True,
        "why": "Whoever sends the **last** message cannot know it arrived, so it acts on a guess: capture "
               "it and the other general decides differently. Adding messages only moves the last one. "
               "This is the Two Generals impossibility (Akkoyunlu, Ekanadham and Huber, 1975; Gray, 1978).",
    },
    {
        "slug": "catch-the-last-messenger",
        "scenario": "two-generals",
        "title": "Catch the last messenger, live",
        "story": "Five messengers this time, and **no fault script**: you are the enemy in the valley. "
                 "Watch the run and, at the right moment, click a messenger in flight and capture it. "
                 "Make one general attack alone.",
        "params": {"rounds": 5, "loss": 0}, "seed": 0, "faults": [],
        "goal": {"invariant": "no_lone_attack"},
        "max_faults": 1, "kinds": ["drop"], "live_only": True, "possible": True,
        "why": "Five messages or fifty, the protocol ends on a message nobody acknowledges. Capturing any "
               "earlier one makes both generals retreat (safe); only the last one splits them.",
    },
    {
        "slug": "two-leaders",
        "scenario": "bully-election",
        "title": "Two leaders at once",
        "story": "P5 has crashed and P1 starts an election. **With one crash or one recovery** "
                 "(nothing else), make the processes disagree about who leads when the run goes quiet.",
        "params": {"n": 5}, "seed": 0, "faults": [],
        "goal": {"invariant": "agreement"},
        "max_faults": 1, "kinds": ["crash", "recover"], "live_only": False, "possible": True,
        "why": "Bring P5 back in the middle of the election: it bullies the processes it reaches while the "
               "others have already accepted P4. The bully algorithm assumes a failure detector that is "
               "perfect and a crashed process that stays down for the election (Garcia-Molina, 1982).",
    },
    {
        "slug": "one-lost-order",
        "scenario": "byzantine-generals",
        "title": "One traitor and one lost order",
        "story": "Four generals, one traitor (L3, who flips every order it relays): OM(1) keeps the loyal "
                 "generals together. But OM assumes that **every message sent is delivered**. Drop one "
                 "message and make a loyal lieutenant disobey its loyal commander.",
        "params": {"n": 4, "m": 1, "traitors": "L3", "strategy": "flip"}, "seed": 0, "faults": [],
        "goal": {"invariant": "IC2"},
        "max_faults": 1, "kinds": ["drop"], "live_only": False, "possible": True,
        "why": "A lost message is read as the default (RETREAT): to the receiver it looks like a second "
               "traitor, and one traitor plus one silent link is more than OM(1) tolerates. Lamport, Shostak "
               "and Pease state assumption A1 for this reason: every message sent is delivered correctly.",
    },
    {
        "slug": "break-om1",
        "scenario": "byzantine-generals",
        "title": "Break OM(1) with four generals",
        "story": "Four generals, one traitor, and the oral-messages algorithm OM(1). You choose **who** "
                 "the traitor is (the commander or a lieutenant), **what** it does (attack, retreat, flip, "
                 "split, silent, random) and the commander's order. No other faults: messages arrive. "
                 "Make the loyal generals disagree (IC1) or disobey a loyal commander (IC2).",
        "params": {"n": 4, "m": 1, "traitors": "L3", "strategy": "flip"}, "seed": 0, "faults": [],
        "free_params": {"traitors": [["C"], ["L1"], ["L2"], ["L3"]],
                        "strategy": ["attack", "retreat", "flip", "split", "silent", "random"],
                        "order": ["ATTACK", "RETREAT"]},
        "goal": {"invariant": ["IC1", "IC2"]},
        "max_faults": 0, "kinds": [], "live_only": False, "possible": False,
        "why": "Nobody can. **Theorem** (Lamport, Shostak and Pease, *The Byzantine Generals Problem*, ACM "
               "TOPLAS 4(3), 1982, Theorem 1): for any m, OM(m) satisfies IC1 and IC2 when there are more "
               "than 3m generals and at most m traitors. Here n = 4 > 3 = 3m.\n\n"
               "Why, for m = 1: a loyal lieutenant decides by majority over three values, the commander's "
               "order as relayed by each lieutenant. If the commander is loyal, at most one of the three is "
               "forged, so the majority is the true order (IC2). If the commander is the traitor, every "
               "loyal lieutenant takes the majority of the *same* three values, since the lieutenants are "
               "loyal and relay faithfully, so they agree (IC1). With n = 3 the majority is over two values "
               "and one forgery ties it: that is why three generals cannot tolerate one traitor.",
    },
    {
        "slug": "two-tokens",
        "scenario": "token-ring",
        "title": "Two processes in the critical section",
        "story": "A token ring with **generation numbers switched off**. The monitor N0 regenerates the "
                 "token when it has not seen it for one full rotation plus a tick (21 ticks here). With a "
                 "single delay (no loss, no crash), put two processes in the critical section at once.",
        "params": {"generations": False}, "seed": 0, "faults": [],
        "goal": {"invariant": "mutual_exclusion"},
        "max_faults": 1, "kinds": ["delay"], "live_only": False, "possible": True,
        "why": "A timeout cannot tell a lost token from a late one. The monitor makes a new token while the "
               "old one is still travelling: two valid tokens exist from that moment, and both are honoured. "
               "Generation numbers (as in Le Lann's ring, 1977, and the IEEE 802.5 active monitor) let a "
               "process discard the stale token: try the same delay with generations on.",
    },
    {
        "slug": "someone-never-knows",
        "scenario": "gossip",
        "title": "Someone never learns everything",
        "story": "Six people, each with a secret, and the optimal schedule of 2n - 4 = 8 calls. "
                 "**Drop one call** and make sure somebody ends up not knowing all six secrets.",
        "params": {"n": 6, "mode": "optimal"}, "seed": 0, "faults": [],
        "goal": {"invariant": "complete"},
        "max_faults": 1, "kinds": ["drop"], "live_only": False, "possible": True,
        "why": "An optimal schedule has no slack: 2n - 4 calls is the minimum (Baker and Shostak, 1972; "
               "Hajnal, Milner and Szemerédi, 1972), so every call carries news someone needs. "
               "Randomised epidemics buy robustness with extra calls.",
    },
    {
        "slug": "charge-twice",
        "scenario": "coffee-shop",
        "title": "Charge the customer twice",
        "story": "A Temporal-style coffee workflow: payment, beverage, inventory, notification, each an "
                 "activity retried by the server. The payment activity is **not idempotent**. With at most "
                 "two crashes or recoveries, make the customer pay twice for one coffee.",
        "params": {"idempotent": False}, "seed": 0, "faults": [],
        "goal": {"outcome": {"charges": 2}},
        "max_faults": 2, "kinds": ["crash", "recover"], "live_only": False, "possible": True,
        "why": "Crash the Payment worker after it charged but before it reported back: the server times the "
               "activity out and retries it on the recovered worker. Durable execution gives at-least-once "
               "activities; exactly-once effects need idempotent activities.",
    },
    {
        "slug": "orphaned-charge",
        "scenario": "choreography-vs-orchestration",
        "title": "Charged, never shipped, never refunded",
        "story": "A choreographed saga: each service reacts to the previous service's event, and nobody "
                 "owns the order as a whole. **Lose one event** and leave a customer charged for an order "
                 "that is neither shipped nor refunded.",
        "params": {"mode": "choreography"}, "seed": 0, "faults": [],
        "goal": {"invariant": "charge_implies_shipped_or_refunded"},
        "max_faults": 1, "kinds": ["drop"], "live_only": False, "possible": True,
        "why": "In a choreography no one waits for the whole saga, so no one notices when it stops halfway. "
               "An orchestrator owns the order, times out and retries or compensates "
               "(Garcia-Molina and Salem, *Sagas*, 1987): compare with mode = orchestration.",
    },
    {
        "slug": "double-charge",
        "scenario": "payment-gateway",
        "title": "The double charge",
        "story": "A checkout retries a charge that timed out, and this gateway has **no idempotency keys**. "
                 "With one drop or one delay, charge the same order twice.",
        "params": {"idempotency": False}, "seed": 0, "faults": [],
        "goal": {"invariant": "at_most_once_charge"},
        "max_faults": 1, "kinds": ["drop", "delay"], "live_only": False, "possible": True,
        "why": "Lose (or slow down) the 200 OK: the charge happened, but the client cannot tell it from a "
               "charge that never happened, retries, and the gateway charges again. A timeout leaves the "
               "outcome unknown; only the server can recognise a retry.",
    },
    {
        "slug": "double-charge-with-keys",
        "scenario": "payment-gateway",
        "title": "The double charge, with idempotency keys",
        "story": "Two orders, retries on timeout, and this time **every logical payment carries an "
                 "idempotency key** that the gateway stores with its response. With at most two drops or "
                 "delays, charge an order twice.",
        "params": {"idempotency": True, "payments": 2}, "seed": 0, "faults": [],
        "goal": {"invariant": "at_most_once_charge"},
        "max_faults": 2, "kinds": ["drop", "delay"], "live_only": False, "possible": False,
        "why": "Nobody can. The gateway keeps, for each key, the response of the first request (durably, "
               "for 24 hours) and answers every later request with that key from it; a request that "
               "arrives while the first is still running is refused with 409. Dropping or delaying "
               "messages only makes the client retry, and every retry carries the **same key**, so at most "
               "one request per key ever reaches the charge. The charge becomes idempotent: f(f(x)) = f(x).\n\n"
               "What does break it is outside your budget: a new key per retry, a key reused across "
               "orders (`reuse_key`), or a retry after the key expired (`late_retry_ms` over 86400000). "
               "Source: Stripe, *Idempotent requests* (API reference) and Brandur Leach, *Designing robust "
               "and predictable APIs with idempotency* (2017).",
    },
    {
        "slug": "apply-twice",
        "scenario": "event-driven-notes",
        "title": "An event that takes effect twice",
        "story": "The User service publishes UserCreated events through an outbox; the Notes service "
                 "applies them, **without deduplication**. The broker delivers at least once. "
                 "With one duplicated or delayed message, make an event take effect twice.",
        "params": {"dedupe": False}, "seed": 0, "faults": [],
        "goal": {"invariant": "effect_at_most_once"},
        "max_faults": 1, "kinds": ["duplicate", "delay"], "live_only": False, "possible": True,
        "why": "At-least-once delivery means a consumer will, one day, see an event twice. Exactly-once "
               "*effect* is the consumer's job: record the event ids it applied (an inbox) and ignore "
               "repeats. Turn dedupe on and try again.",
    },
    {
        "slug": "leak-stock",
        "scenario": "microservices-order",
        "title": "Leak stock with a slow reply",
        "story": "Five orders through order, user, product, inventory and payment services, with "
                 "compensation on. **Slow one message down** (no loss, no crash) and leave stock reserved "
                 "for an order that was rejected.",
        "params": {}, "seed": 0, "faults": [],
        "goal": {"invariant": "stock_conserved"},
        "max_faults": 1, "kinds": ["delay"], "live_only": False, "possible": True,
        "why": "A timeout is not a failure: the reservation arrives after OrderService gave up and "
               "compensated, so it is made after its release and nobody undoes it. Compensations must "
               "handle late replies (release by reservation id, or make the reservation expire).",
    },
    {
        "slug": "block-the-participants",
        "scenario": "two-phase-commit",
        "title": "Leave every participant blocked",
        "story": "Three participants, all voting yes, and a coordinator that logs its decision before sending "
                 "it. **With one crash** (nothing else), end the run with participants that voted yes and can "
                 "never decide.",
        "params": {"n": 3}, "seed": 0, "faults": [],
        "goal": {"outcome": {"blocked": True}},
        "max_faults": 1, "kinds": ["crash"], "live_only": False, "possible": True,
        "why": "Crash C after the votes and before its decision leaves: every participant voted yes, so none "
               "may abort on its own, and none knows whether C chose commit. Asking each other does not help "
               "when all are uncertain. This is why 2PC is called blocking (Bernstein, Hadzilacos and Goodman, "
               "1987) and why three-phase commit (Skeen, 1981) and Paxos Commit exist.",
    },
    {
        "slug": "count-it-twice",
        "scenario": "chandy-lamport",
        "title": "Make the snapshot count a transfer twice",
        "story": "Three processes pass money around and P1 takes a snapshot at t=6, on channels that are **not "
                 "FIFO**. **With one delay** (nothing else), make a process record a TRANSFER as received although "
                 "its sender recorded before sending it.",
        "params": {"n": 3, "fifo": False}, "seed": 0, "faults": [],
        "goal": {"invariant": "consistent cut"},
        "max_faults": 1, "kinds": ["delay"], "live_only": False, "possible": True,
        "why": "Hold back P1's MARKER to P2: the TRANSFER P1 sends after recording overtakes it, P2 counts it in "
               "its balance and P1's record still holds it. Chandy and Lamport (1985) assume FIFO channels for "
               "exactly this reason; on FIFO channels no delay can do it, because nothing overtakes a MARKER.",
    },
    {
        "slug": "stall-raft",
        "scenario": "raft",
        "title": "Stop Raft from committing",
        "story": "Five servers, three client commands. **Crash servers** (as few as you can) so that the run ends "
                 "with commands that were never committed.",
        "params": {"n": 5}, "seed": 0, "faults": [],
        "goal": {"outcome": {"stalled": True}},
        "max_faults": 3, "kinds": ["crash"], "live_only": False, "possible": True,
        "why": "Raft needs a majority to elect a leader and to commit: with three of five servers down, two are "
               "left, and nothing more is committed until one comes back. Two crashes are never enough, "
               "whichever you pick: three survivors are a majority (Ongaro and Ousterhout, 2014).",
    },
    {
        "slug": "two-raft-leaders",
        "scenario": "raft",
        "title": "Two leaders in one term",
        "story": "Crash, recover, cut and heal the network as you like (up to eight interventions) and make two "
                 "servers lead the **same term**, or two servers apply different commands at the same index.",
        "params": {"n": 5}, "seed": 0, "faults": [],
        "goal": {"invariant": ["election safety", "state machine safety"]},
        "max_faults": 8, "kinds": ["crash", "recover", "partition", "heal"], "live_only": False, "possible": False,
        "why": "Each server votes at most once per term and remembers its vote across crashes, and two majorities "
               "always share a server, so no term can have two leaders. A server votes only for a candidate whose "
               "log is at least as up to date as its own, so every leader holds every committed entry, and no "
               "server ever applies a different one (Ongaro and Ousterhout, 2014, section 5.4; proved in TLA+).",
    },
    {
        "slug": "stop-the-decision",
        "scenario": "paxos",
        "title": "Keep Paxos from deciding",
        "story": "One proposer, five acceptors, nothing else going on: P1 gets v1 chosen in two round trips. "
                 "**With crashes only** (at most three), end the run with no value chosen.",
        "params": {"proposers": 1, "acceptors": 5, "starts": "P1@0"}, "seed": 0, "faults": [],
        "goal": {"outcome": {"chosen": None}},
        "max_faults": 3, "kinds": ["crash"], "live_only": False, "possible": True,
        "why": "Crash any three acceptors before they accept: no majority of five is left, so no ballot can "
               "finish, however often P1 retries. Two crashes are not enough: a ballot needs a majority, and "
               "Paxos tolerates (m-1)/2 crashed acceptors (Lamport, 'Paxos Made Simple', 2001).",
    },
    {
        "slug": "choose-two-values",
        "scenario": "paxos",
        "title": "Make Paxos choose two values",
        "story": "Two proposers that duel (P1 proposes v1, P2 proposes v2) and three acceptors. With up to four "
                 "crashes, recoveries, drops, delays or duplicates, get **v1 and v2 both chosen**.",
        "params": {"proposers": 2, "acceptors": 3, "starts": "P1@0,P2@1", "backoff": "random"}, "seed": 0,
        "faults": [],
        "goal": {"invariant": "at most one value chosen"},
        "max_faults": 4, "kinds": ["crash", "recover", "drop", "delay", "duplicate"], "live_only": False,
        "possible": False,
        "why": "Any two majorities of acceptors share one, and a proposer must propose the value of the "
               "highest-numbered proposal its majority reports, so once a value is chosen every higher ballot "
               "proposes it (Lamport's P2c, 'Paxos Made Simple', 2001). Faults can stop Paxos from deciding; "
               "they cannot make it decide twice.",
    },
]


FIELDS = ("scenario", "title", "story", "params", "seed", "faults", "free_params", "goal", "max_faults", "kinds",
          "live_only", "possible", "why")


def ship(apps, scenarios=None):
    """Write the shipped challenges (of ``scenarios``, or all) in a data migration."""
    Challenge = apps.get_model("challenges", "Challenge")
    for order, item in enumerate(CHALLENGES):
        if scenarios is None or item["scenario"] in scenarios:
            defaults = {name: item[name] for name in FIELDS if name in item}
            Challenge.objects.update_or_create(slug=item["slug"], defaults={**defaults, "order": order})


def unship(apps, scenarios=None):
    apps.get_model("challenges", "Challenge").objects.filter(
        slug__in=[c["slug"] for c in CHALLENGES if scenarios is None or c["scenario"] in scenarios]).delete()
