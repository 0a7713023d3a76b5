"""Every scenario Lifelines knows, by slug, in catalog order."""
from .scenarios import bully_election, byzantine_generals, event_driven_notes, gossip, payment_gateway, two_generals

SCENARIOS = {s.slug: s for s in (
    two_generals.TwoGenerals(),
    bully_election.BullyElection(),
    byzantine_generals.ByzantineGenerals(),
    gossip.Gossip(),
    payment_gateway.PaymentGateway(),
    event_driven_notes.EventDrivenNotes(),
)}


def get(slug):
    """The scenario for ``slug``, or KeyError."""
    return SCENARIOS[slug]
