"""Postfix's queue file records, parsed on the host: bounded, and never fooled by a short file."""
from grader.queueread import parse_defer_log, parse_queue_file, records


def record(kind: str, data: bytes) -> bytes:
    length, encoded = len(data), b""
    while True:
        byte = length & 0x7F
        length >>= 7
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            return kind.encode() + encoded + data


def test_a_queue_file_gives_sender_recipients_and_time():
    body = b"x" * 300  # a length needing two bytes
    data = (record("C", b"   262  123  1 1 262") + record("T", b"1796448992 123") + record("S", b"alice@example.test")
            + record("R", b"bob@remote.test") + record("D", b"done@example.test") + record("N", body)
            + record("R", b"carol@remote.test") + record("E", b""))
    message = parse_queue_file("ABC123", "deferred", data, {"bob@remote.test": "connection refused"})
    assert message.sender == "alice@example.test" and message.arrival_time == 1796448992
    assert message.message_size == 262
    assert [(r.address, r.delay_reason) for r in message.recipients] == [
        ("bob@remote.test", "connection refused"), ("carol@remote.test", None)]


def test_a_truncated_or_garbage_file_ends_the_records_quietly():
    good = record("S", b"a@x") + record("R", b"b@y")
    assert [k for k, _ in records(good + b"R\xff\xff\xff\xff\xff\x01")] == [ord("S"), ord("R")]
    assert list(records(b"\x00")) == []
    assert [k for k, _ in records(record("R", b"b@y")[:-1])] == []


def test_the_defer_log_gives_each_recipients_reason():
    log = b"recipient=bob@remote.test\noffset=1\nstatus=4.4.1\naction=delayed\nreason=refused\n\n" \
          b"recipient=carol@remote.test\nreason=timed out\n"
    assert parse_defer_log(log) == {"bob@remote.test": "refused", "carol@remote.test": "timed out"}
