"""Starts moto's server (the AWS SNS/SQS emulator the AWS transport's tests run against) with one
fix: an SQS receive takes a message atomically.

moto 5.2's `receive_message` checks `message.visible` and then calls `mark_received` with no lock
held, and its server handles each request on its own thread, so two concurrent receives on one
queue can both take the same message. Real SQS hands a message to one receive until its visibility
timeout ends, and the conformance suite's competing-consumers scenario asserts exactly that; with
the race it failed about once in six CI runs (m-175 acked by both members of one group, 2 s apart,
with a 30 s visibility timeout).

The fix: each scan of the queue runs under one process-wide lock, with the long poll's waiting
done outside it (moto's own scan with a wait of 0, then moto's own wait for a visible message,
until the caller's wait time ends). Usage is moto.server's: `python moto-server.py -H HOST -p PORT`.
"""

import threading
import time

from moto.server import main
from moto.sqs.models import SQSBackend

_scan_receive = SQSBackend.receive_message
_scan_lock = threading.Lock()

# Bound on how often a long poll rescans when moto's wait returns at once (visible messages that
# this receive may not take, such as a FIFO group still in flight): 100 scans a second per poll.
RESCAN_INTERVAL_SECONDS = 0.01


def _receive_message_atomically(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                                message_attribute_names=None):
    poll_end = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        with _scan_lock:
            result = _scan_receive(self, queue_name, count, 0, visibility_timeout,
                                   message_attribute_names)
        remaining = poll_end - time.monotonic()
        if result or remaining <= 0:
            return result
        waited_from = time.monotonic()
        self.get_queue(queue_name).wait_for_messages(min(1, remaining))
        if time.monotonic() - waited_from < RESCAN_INTERVAL_SECONDS:
            time.sleep(RESCAN_INTERVAL_SECONDS)


SQSBackend.receive_message = _receive_message_atomically

if __name__ == "__main__":
    main()
