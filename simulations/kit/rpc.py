"""Request/reply over an unreliable network: correlation ids and timeouts.

A caller that sends a request and hears nothing cannot tell a lost request from a lost reply or a slow server
(Tanenbaum & van Steen, *Distributed Systems*, ch. 4, RPC semantics under failures): all it has is a timeout.
Each request carries a correlation id in its data (field ``field``); the reply echoes it, so a late reply to a
request already given up on is recognised and set aside rather than taken for the answer to a newer one
(the Correlation Identifier pattern, Hohpe & Woolf, *Enterprise Integration Patterns*, 2003).
"""


class Call:
    __slots__ = ("id", "dst", "label", "data", "context", "sent_at", "timer")

    def __init__(self, id, dst, label, data, context, sent_at, timer):
        self.id, self.dst, self.label, self.data = id, dst, label, data
        self.context, self.sent_at, self.timer = context, sent_at, timer


class Calls:
    """The outstanding requests of one node. Route the node's replies through ``answered`` and its timers through
    ``timed_out``; a crash forgets them all (``forget``), since they lived in memory."""

    def __init__(self, node, field="req", timeout_label="timeout"):
        self.node, self.field, self.timeout_label = node, field, timeout_label
        self.pending = {}
        self.overdue = {}  # calls given up on, whose reply may still come: see ``late``
        self.count = 0

    def call(self, dst, label, data=None, timeout=None, context=None, tag=None):
        """Send a request; returns its Call. Without ``timeout`` the caller waits for ever."""
        self.count += 1
        cid = self.count
        self.node.send(dst, label, {self.field: cid, **(data or {})}, tag=tag)
        timer = self.node.set_timer(timeout, self.timeout_label, cid) if timeout is not None else None
        call = self.pending[cid] = Call(cid, dst, label, data, context, self.node.now, timer)
        return call

    def reply(self, msg, label, data=None):
        """Answer the request ``msg`` (on the server side), echoing its correlation id."""
        return self.node.send(msg.src, label, {self.field: msg.data[self.field], **(data or {})})

    def answered(self, msg):
        """The Call this reply answers (its timer cancelled), or None for a late or unknown reply."""
        call = self.pending.pop((msg.data or {}).get(self.field), None)
        if call is not None and call.timer is not None:
            call.timer.cancel()
        return call

    def timed_out(self, label, data):
        """The Call whose timeout this timer is, or None when the timer is not one of ours or was answered."""
        if label != self.timeout_label:
            return None
        call = self.pending.pop(data, None)
        if call is not None:
            self.overdue[call.id] = call
        return call

    def late(self, msg):
        """The Call a reply answers after its timeout fired (once), or None: for a caller that still has a use
        for the answer it stopped waiting for, such as a proxy that passes it on."""
        return self.overdue.pop((msg.data or {}).get(self.field), None)

    def cancel(self, call):
        if self.pending.pop(call.id, None) is not None and call.timer is not None:
            call.timer.cancel()

    def cancel_all(self):
        """Stop waiting for every outstanding request (the caller settled by other means)."""
        for call in self.pending.values():
            if call.timer is not None:
                call.timer.cancel()
        self.pending = {}

    def forget(self):
        self.pending, self.overdue = {}, {}

    def __len__(self):
        return len(self.pending)
