"""Every scenario Lifelines knows, by slug, in catalog order."""
from .scenarios import (bully_election, byzantine_generals, chandy_lamport, choreography_vs_orchestration,
                        coffee_shop, event_driven_notes, gossip, microservices_order, paxos, payment_gateway, raft,
                        token_ring, two_generals, two_phase_commit)

SCENARIOS = {s.slug: s for s in (
    two_generals.TwoGenerals(),
    bully_election.BullyElection(),
    byzantine_generals.ByzantineGenerals(),
    token_ring.TokenRing(),
    gossip.Gossip(),
    coffee_shop.CoffeeShop(),
    choreography_vs_orchestration.ChoreographyVsOrchestration(),
    payment_gateway.PaymentGateway(),
    event_driven_notes.EventDrivenNotes(),
    microservices_order.MicroservicesOrder(),
    two_phase_commit.TwoPhaseCommit(),
    chandy_lamport.ChandyLamport(),
    raft.Raft(),
    paxos.Paxos(),
)}


def get(slug):
    """The scenario for ``slug``, or KeyError."""
    return SCENARIOS[slug]
