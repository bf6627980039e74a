#!/usr/bin/env python3
"""A platform written with python smpplib (PyPI) that keeps sending through a
load balancer, driven by tests/multi_binary.rs.

Usage: smpplib_lb.py HOST PORT SYSTEM_ID PASSWORD SOURCE DEST_PREFIX COUNT

Binds as a transceiver and submits COUNT messages one at a time (to
DEST_PREFIX + a 4-digit number), each waiting for its submit_sm_resp. When
the connection breaks (the instance behind the balancer died) or the bind is
refused, it connects and binds again, through the same balancer, and sends
the unanswered message again (counted as "resent": the carrier may see it
twice). A temporary refusal (throttled, or a store error while an instance
fails over) is retried after a pause. deliver_sm are answered by smpplib.

Prints one JSON object per line: "bound" (each bind), "reconnect", "progress"
every 50 messages, and "done" with the counts. Kills itself after 120 s.
"""

import json
import signal
import socket
import sys
import time
import warnings

import smpplib.client
import smpplib.consts
import smpplib.exceptions


def emit(**event):
    print(json.dumps(event), flush=True)


def connect(host, port, system_id, password):
    while True:
        client = smpplib.client.Client(host, int(port), timeout=3,
                                       allow_unknown_opt_params=True)
        try:
            client.connect()
            resp = client.bind_transceiver(system_id=system_id, password=password)
            if resp.status == 0:
                emit(event="bound")
                return client
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError,
                OSError, socket.timeout):
            pass
        try:
            client.disconnect()
        except Exception:
            pass
        time.sleep(0.2)


def main():
    host, port, system_id, password, source, prefix, count = sys.argv[1:8]
    count = int(count)
    signal.alarm(120)
    warnings.simplefilter("ignore", DeprecationWarning)
    answers = []
    client = connect(host, port, system_id, password)
    client.set_message_sent_handler(lambda pdu, **_: answers.append(pdu.status))
    acked = reconnects = resent = refused = 0
    i = 0
    attempt_failed = False
    while i < count:
        answers.clear()
        try:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                source_addr=source,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr="%s%04d" % (prefix, i),
                short_message=("lb %d" % i).encode(),
            )
            if attempt_failed:
                resent += 1
                attempt_failed = False
            while not answers:
                client.read_once()
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError,
                OSError, socket.timeout):
            attempt_failed = True
            reconnects += 1
            emit(event="reconnect", at=i)
            try:
                client.disconnect()
            except Exception:
                pass
            client = connect(host, port, system_id, password)
            client.set_message_sent_handler(lambda pdu, **_: answers.append(pdu.status))
            continue
        if answers[0] != 0:
            refused += 1
            time.sleep(0.1)
            continue
        acked += 1
        i += 1
        if i % 50 == 0:
            emit(event="progress", acked=acked)
        time.sleep(0.005)
    emit(event="done", acked=acked, reconnects=reconnects, resent=resent,
         refused=refused)
    try:
        client.unbind()
        client.disconnect()
    except Exception:
        pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        emit(event="error", error=repr(e))
        raise
