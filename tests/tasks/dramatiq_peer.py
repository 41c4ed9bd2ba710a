#!/usr/bin/python3
"""Plays Dramatiq's side of the wire for the task tests, with pika (the
client Dramatiq's RabbitmqBroker uses), doing byte for byte what
dramatiq/brokers/rabbitmq.py and dramatiq/message.py do. No Dramatiq is
installed here; this file is the reference the C++ side is tested against.

  dramatiq_peer.py declare HOST PORT QUEUE [MAX_PRIORITY]
      RabbitmqBroker._ensure_queue: declares QUEUE, QUEUE.DQ and QUEUE.XQ with
      Dramatiq's arguments. Exit 0 on success, 3 on PRECONDITION_FAILED.
  dramatiq_peer.py send HOST PORT QUEUE ACTOR ARGS_JSON KWARGS_JSON OPTIONS_JSON [DELAY_MS]
      RabbitmqBroker.enqueue(Message(...), delay=DELAY_MS): declares, then
      publishes the JSONEncoder body (delivery_mode 2, priority from
      options.broker_priority). Prints the body it sent.
  dramatiq_peer.py send-raw HOST PORT ROUTING_KEY BODY_FILE
      Publishes the bytes of BODY_FILE as they are (hostile bodies).
  dramatiq_peer.py receive HOST PORT QUEUE COUNT TIMEOUT_SECONDS
      Takes COUNT messages from QUEUE (acking them) and checks each the way a
      Dramatiq worker reads it: the body is UTF-8 JSON, Message(**body) works
      (exactly the seven fields, with Dramatiq's types), re-encoding it with
      JSONEncoder gives the same bytes, delivery_mode is 2. Prints one JSON
      array of {"body": ..., "routing_key": ..., "priority": ...}. Exit 1 on
      a missing message, 2 on a check that failed (printed on stderr).
"""
import json
import sys
import time
import uuid

import pika

DEAD_MESSAGE_TTL = 86400000 * 7
MESSAGE_FIELDS = ("queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp")


def connect(host, port):
    params = pika.ConnectionParameters(host=host, port=int(port), heartbeat=10, blocked_connection_timeout=10,
                                       socket_timeout=5, connection_attempts=1)
    return pika.BlockingConnection(params)


def dq_name(queue):
    return queue if queue.endswith(".DQ") else (queue[:-3] if queue.endswith(".XQ") else queue) + ".DQ"


def xq_name(queue):
    return queue if queue.endswith(".XQ") else (queue[:-3] if queue.endswith(".DQ") else queue) + ".XQ"


def queue_arguments(queue, max_priority):
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(queue)}
    if max_priority:
        arguments["x-max-priority"] = max_priority
    return arguments


def declare(channel, queue, max_priority=None):
    channel.queue_declare(queue=queue, durable=True, arguments=queue_arguments(queue, max_priority))
    channel.queue_declare(queue=dq_name(queue), durable=True, arguments=queue_arguments(queue, max_priority))
    channel.queue_declare(queue=xq_name(queue), durable=True, arguments={"x-message-ttl": DEAD_MESSAGE_TTL})


def encode(message):
    # dramatiq.encoder.JSONEncoder
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


def cmd_declare(host, port, queue, max_priority=None):
    conn = connect(host, port)
    try:
        declare(conn.channel(), queue, int(max_priority) if max_priority else None)
    except pika.exceptions.ChannelClosedByBroker as e:
        print(f"declare refused: {e}", file=sys.stderr)
        return 3
    conn.close()
    return 0


def cmd_send(host, port, queue, actor, args_json, kwargs_json, options_json, delay=None):
    # Message(queue_name=..., ...) as actor.message_with_options builds it.
    message = {"queue_name": queue, "actor_name": actor, "args": list(json.loads(args_json)),
               "kwargs": json.loads(kwargs_json), "options": json.loads(options_json),
               "message_id": str(uuid.uuid4()), "message_timestamp": int(time.time() * 1000)}
    conn = connect(host, port)
    channel = conn.channel()
    channel.confirm_delivery()
    declare(channel, queue)
    routing_key = queue
    if delay is not None:
        routing_key = dq_name(queue)
        # message.copy(queue_name=..., options={"eta": ...}): update appends eta.
        message = dict(message, queue_name=routing_key, options=dict(message["options"],
                                                                     eta=int(time.time() * 1000) + int(delay)))
    body = encode(message)
    channel.basic_publish(exchange="", routing_key=routing_key, body=body,
                          properties=pika.BasicProperties(delivery_mode=2,
                                                          priority=message["options"].get("broker_priority")))
    conn.close()
    print(body.decode("utf-8"))
    return 0


def cmd_send_raw(host, port, routing_key, body_file):
    with open(body_file, "rb") as f:
        body = f.read()
    conn = connect(host, port)
    channel = conn.channel()
    channel.confirm_delivery()
    channel.basic_publish(exchange="", routing_key=routing_key, body=body,
                          properties=pika.BasicProperties(delivery_mode=2))
    conn.close()
    return 0


def check(body, properties):
    data = json.loads(body.decode("utf-8"))
    if not isinstance(data, dict):
        return "body is not a JSON object"
    if set(data) != set(MESSAGE_FIELDS):
        return f"fields {sorted(data)} are not Message's {sorted(MESSAGE_FIELDS)}"
    if list(data) != list(MESSAGE_FIELDS):
        return f"field order {list(data)} differs from Message._asdict()"
    types = {"queue_name": str, "actor_name": str, "args": list, "kwargs": dict, "options": dict,
             "message_id": str, "message_timestamp": int}
    for field, kind in types.items():
        if not isinstance(data[field], kind) or isinstance(data[field], bool):
            return f"{field} is {type(data[field]).__name__}, Dramatiq writes {kind.__name__}"
    uuid.UUID(data["message_id"])
    if encode(data) != body:
        return "re-encoding with Dramatiq's JSONEncoder gives other bytes"
    if properties.delivery_mode != 2:
        return f"delivery_mode {properties.delivery_mode}, Dramatiq publishes 2"
    return None


def cmd_receive(host, port, queue, count, timeout):
    conn = connect(host, port)
    channel = conn.channel()
    deadline = time.time() + float(timeout)
    received = []
    while len(received) < int(count):
        method, properties, body = channel.basic_get(queue=queue, auto_ack=False)
        if method is None:
            if time.time() > deadline:
                print(json.dumps(received))
                print(f"only {len(received)} of {count} messages arrived", file=sys.stderr)
                return 1
            time.sleep(0.05)
            continue
        problem = check(body, properties)
        if problem:
            print(f"message {body[:200]!r}: {problem}", file=sys.stderr)
            return 2
        channel.basic_ack(method.delivery_tag)
        received.append({"body": json.loads(body), "routing_key": method.routing_key,
                         "priority": properties.priority})
    conn.close()
    print(json.dumps(received))
    return 0


def main(argv):
    commands = {"declare": cmd_declare, "send": cmd_send, "send-raw": cmd_send_raw, "receive": cmd_receive}
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 64
    return commands[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
