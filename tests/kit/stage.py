"""A throwaway scenario for trying one kit part with a few nodes of the test's own."""
from simulations.scenario import Scenario


class Stage(Scenario):
    slug = "stage"

    def __init__(self, make_nodes, delay=1, invariants=(), world=None, bands=None):
        self.make_nodes, self.delay = make_nodes, delay
        self.invariants, self.made_world = tuple(invariants), world
        self.bands = bands or {}

    def nodes(self, params):
        return [n.id for n in self.make_nodes()]

    def world(self, params):
        return self.made_world() if self.made_world else None

    def setup(self, sim, params):
        sim.network.delay = self.delay
        return self.make_nodes()


def play(make_nodes, seed=0, faults=(), **kw):
    """Run the nodes ``make_nodes()`` returns; the finished Simulation (trace, nodes, world)."""
    stage = Stage(make_nodes, **kw)
    sim = stage.simulate({}, seed, list(faults))
    sim.run()
    return sim


def sent(sim, label=None, src=None, dst=None):
    return [e for e in sim.trace if e["kind"] == "send" and label in (None, e["label"])
            and src in (None, e["src"]) and dst in (None, e["dst"])]
