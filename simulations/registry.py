"""Every scenario Lifelines knows, by slug, in catalog order."""
from .scenarios import bully_election, byzantine_generals, gossip, two_generals

SCENARIOS = {s.slug: s for s in (
    two_generals.TwoGenerals(),
    bully_election.BullyElection(),
    byzantine_generals.ByzantineGenerals(),
    gossip.Gossip(),
)}


def get(slug):
    """The scenario for ``slug``, or KeyError."""
    return SCENARIOS[slug]
