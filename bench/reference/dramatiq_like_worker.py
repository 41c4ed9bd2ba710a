#!/usr/bin/python3
"""Reference for the tasks.* benchmarks: a worker built the way Dramatiq's
is (dramatiq/worker.py and brokers/rabbitmq.py), on the same pika, so that
dc-worker's figures sit next to what the Python stack does on this machine.

  dramatiq_like_worker.py worker --port P --queue Q --count N --threads T
      One consumer thread (pika BlockingConnection, prefetch 2 x threads,
      manual acks) puts decoded messages on a work queue; T worker threads
      run a no-op actor and hand each message back for the ack through
      connection.add_callback_threadsafe, as Dramatiq's consumer does. Prints
      {"per_s": ...} once N messages are acked (the queue is preloaded).
  dramatiq_like_worker.py enqueue --port P --queue Q --count N
      RabbitmqBroker(confirm_delivery=True).enqueue per message: the
      JSONEncoder body, delivery_mode 2, waiting for each confirm.
"""
import argparse
import json
import queue as queue_module
import sys
import threading
import time
import uuid
from functools import partial

import pika

FIELDS = ("queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp")


def connect(port):
    return pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=port, heartbeat=30))


def noop_actor(*args, **kwargs):
    return None


def worker(port, queue, count, threads):
    conn = connect(port)
    channel = conn.channel()
    channel.basic_qos(prefetch_count=threads * 2)
    work = queue_module.Queue()
    acked = [0]
    done = threading.Event()

    def ack(tag):
        channel.basic_ack(tag)
        acked[0] += 1
        if acked[0] >= count:
            done.set()

    def run():
        while not done.is_set():
            try:
                tag, message = work.get(timeout=0.1)
            except queue_module.Empty:
                continue
            noop_actor(*message["args"], **message["kwargs"])
            conn.add_callback_threadsafe(partial(ack, tag))

    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    start = time.monotonic()
    for method, properties, body in channel.consume(queue, inactivity_timeout=0.05):
        if method is not None:
            data = json.loads(body.decode("utf-8"))  # Message.decode
            message = {k: data[k] for k in FIELDS}   # Message(**data)
            work.put((method.delivery_tag, message))
        if done.is_set():
            break
    seconds = time.monotonic() - start
    channel.cancel()
    conn.close()
    print(json.dumps({"count": count, "threads": threads, "seconds": seconds, "per_s": count / seconds}))


def enqueue(port, queue, count):
    conn = connect(port)
    channel = conn.channel()
    channel.confirm_delivery()
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue + ".XQ"}
    channel.queue_declare(queue=queue, durable=True, arguments=arguments)
    channel.queue_declare(queue=queue + ".DQ", durable=True, arguments=arguments)
    channel.queue_declare(queue=queue + ".XQ", durable=True, arguments={"x-message-ttl": 86400000 * 7})
    start = time.monotonic()
    for i in range(count):
        message = {"queue_name": queue, "actor_name": "noop", "args": [i], "kwargs": {}, "options": {},
                   "message_id": str(uuid.uuid4()), "message_timestamp": int(time.time() * 1000)}
        channel.basic_publish(exchange="", routing_key=queue,
                              body=json.dumps(message, separators=(",", ":")).encode("utf-8"),
                              properties=pika.BasicProperties(delivery_mode=2, priority=None))
    seconds = time.monotonic() - start
    conn.close()
    print(json.dumps({"count": count, "seconds": seconds, "per_s": count / seconds}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["worker", "enqueue"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    a = parser.parse_args()
    if a.command == "worker":
        worker(a.port, a.queue, a.count, a.threads)
    else:
        enqueue(a.port, a.queue, a.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
