"""The distributed-systems parts every workflow scenario needs, built once: each module is small, cites where its
behaviour comes from, and is tested on its own in tests/kit/.

rpc          request/reply with correlation ids and timeouts
retry        capped exponential backoff with jitter (Brooker 2015)
broker       topics, subscriptions, acks, redelivery and a dead-letter queue
outbox       the transactional outbox and its polling relay
idempotency  an idempotency-key store that replays the stored response (Stripe)
breaker      closed / open / half-open circuit breaker, drawn as a band (Nygard)
saga         orchestrated and choreographed sagas with compensation (Garcia-Molina & Salem 1987)
"""
