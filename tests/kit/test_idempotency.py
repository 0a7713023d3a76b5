"""Stripe's idempotency layer: the first response under a key is saved and replayed, errors included."""
from simulations.kit.idempotency import DAY_MS, KeyStore, Verdict


def test_the_first_request_under_a_key_runs_and_its_response_is_replayed():
    store = KeyStore()
    assert store.begin("k1", ("order-1", 2500), 0)[0] == Verdict.NEW
    store.finish("k1", {"status": 200, "charge": "ch_1"})
    verdict, entry = store.begin("k1", ("order-1", 2500), 5000)
    assert verdict == Verdict.REPLAY and entry.response == {"status": 200, "charge": "ch_1"}


def test_a_500_is_saved_and_replayed_not_executed_again():
    store = KeyStore()
    store.begin("k1", ("order-1", 2500), 0)
    store.finish("k1", {"status": 500})
    assert store.begin("k1", ("order-1", 2500), 10) == (Verdict.REPLAY, store.entries["k1"])
    assert store.entries["k1"].response == {"status": 500}


def test_a_changed_request_under_the_same_key_is_refused():
    store = KeyStore()
    store.begin("k1", ("order-1", 2500), 0)
    store.finish("k1", {"status": 200})
    assert store.begin("k1", ("order-1", 3000), 10)[0] == Verdict.MISMATCH


def test_a_repeat_while_the_first_still_runs_is_in_flight():
    store = KeyStore()
    store.begin("k1", "fp", 0)
    assert store.begin("k1", "fp", 1)[0] == Verdict.IN_FLIGHT


def test_a_key_is_pruned_after_its_ttl_and_the_request_is_new_again():
    store = KeyStore()
    store.begin("k1", "fp", 0)
    store.finish("k1", {"status": 200})
    assert store.begin("k1", "fp", DAY_MS - 1)[0] == Verdict.REPLAY
    verdict, entry = store.begin("k1", "fp", DAY_MS + 5)
    assert verdict == Verdict.NEW and entry.replaced_age == DAY_MS + 5 and store.expired == 1


def test_a_crash_mid_request_releases_only_unfinished_keys():
    store = KeyStore(ttl=100)
    store.begin("done", "fp", 0)
    store.finish("done", {"status": 200})
    store.begin("running", "fp", 0)
    store.abandon_running()
    assert list(store.entries) == ["done"] and len(store) == 1
