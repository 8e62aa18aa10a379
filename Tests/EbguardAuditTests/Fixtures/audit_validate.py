#!/usr/bin/env python3
"""Validates ebguard's exported audit data with independently written parsers and schemas.

    audit_validate.py ocsf VERSION FILE     FILE: OCSF events, one JSON object a line. Each is
                                            checked against the official OCSF JSON schema of
                                            VERSION (PyPI `ocsf-json-schema`, generated from
                                            schema.ocsf.io), for its class and the profiles it
                                            declares, with `jsonschema` (Draft 2020-12).
    audit_validate.py otlp FILE             FILE: OTLP/HTTP JSON bodies, one a line, parsed
                                            strictly (unknown fields are errors) into the
                                            official protobuf ExportLogsServiceRequest
                                            (PyPI `opentelemetry-proto`).
    audit_validate.py syslog-frames FILE    FILE: a byte stream of RFC 6587 octet-counted frames.
    audit_validate.py syslog-lines FILE     FILE: RFC 5424 messages, one a line (rsyslog %rawmsg%).
                                            Each message is parsed by PyPI
                                            `syslog-rfc5424-parser`; MSG must be MSG-UTF8 (BOM,
                                            then valid UTF-8, RFC 5424 §6.4).

Prints one line per problem and "ok: N ..." at the end. Exit status: 0 all valid, 1 invalid,
3 a validator package is missing (`make deps` installs them): a test treats that as a failure.
"""
import json
import sys


def missing(package, error):
    print(f"validator unavailable: {package} is not installed ({error}); run `make deps`")
    sys.exit(3)


def validate_ocsf(version, path):
    try:
        import jsonschema
        from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
    except ImportError as e:
        missing("ocsf-json-schema / jsonschema", e)
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
    validators = {}
    problems = 0
    count = 0
    classes = set()
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            count += 1
            event = json.loads(line)
            where = f"line {number}"
            declared = event.get("metadata", {}).get("version")
            if declared != version:
                print(f"{where}: metadata.version is {declared!r}, expected {version}")
                problems += 1
                continue
            class_uid = event.get("class_uid")
            try:
                name = schema.lookup_class_name_from_uid(class_uid)
            except Exception as e:  # an unknown class
                print(f"{where}: class_uid {class_uid!r}: {e}")
                problems += 1
                continue
            profiles = tuple(sorted(event.get("metadata", {}).get("profiles", [])))
            key = (name, profiles)
            if key not in validators:
                class_schema = schema.get_class_schema(class_name=name, profiles=list(profiles))
                validators[key] = jsonschema.Draft202012Validator(class_schema)
            errors = sorted(validators[key].iter_errors(event), key=lambda e: list(e.absolute_path))
            for error in errors:
                at = "/".join(str(p) for p in error.absolute_path) or "(event)"
                print(f"{where} ({name}): {at}: {error.message}")
                problems += 1
            # What JSON schema cannot say: type_uid is class_uid * 100 + activity_id.
            if event.get("type_uid") != class_uid * 100 + event.get("activity_id", -1):
                print(f"{where} ({name}): type_uid {event.get('type_uid')} is not class_uid*100+activity_id")
                problems += 1
            classes.add(class_uid)
    print(f"ok: {count} OCSF {version} events checked, classes {sorted(classes)}, {problems} problems")
    return problems == 0 and count > 0


def validate_otlp(path):
    try:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    except ImportError as e:
        missing("opentelemetry-proto / protobuf", e)
    problems = 0
    bodies = 0
    records = 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            bodies += 1
            request = ExportLogsServiceRequest()
            try:
                json_format.Parse(line, request, ignore_unknown_fields=False)
            except json_format.ParseError as e:
                print(f"body {number}: not an ExportLogsServiceRequest: {e}")
                problems += 1
                continue
            for resource_logs in request.resource_logs:
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        records += 1
                        if record.time_unix_nano == 0 or not record.body.HasField("string_value"):
                            print(f"body {number}: a log record without time or string body")
                            problems += 1
    print(f"ok: {bodies} OTLP bodies, {records} log records checked, {problems} problems")
    return problems == 0 and bodies > 0


def check_syslog(message, where):
    try:
        from syslog_rfc5424_parser import SyslogMessage
        from syslog_rfc5424_parser.message import ParseError
    except ImportError as e:
        missing("syslog-rfc5424-parser", e)
    problems = []
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError as e:
        return [f"{where}: not UTF-8: {e}"]
    try:
        parsed = SyslogMessage.parse(text)
    except ParseError as e:
        return [f"{where}: not an RFC 5424 message: {e}"]
    if parsed.version != 1:
        problems.append(f"{where}: VERSION {parsed.version}")
    # MSG = MSG-ANY / MSG-UTF8; MSG-UTF8 = BOM UTF-8-STRING (RFC 5424 §6.4, §6): ebguard's MSG is
    # UTF-8 JSON, so it must begin with the BOM.
    msg = parsed.msg or ""
    if not msg.startswith("\ufeff"):
        problems.append(f"{where}: MSG does not start with the UTF-8 BOM")
        return problems
    try:
        record = json.loads(msg[1:])
    except ValueError as e:
        return problems + [f"{where}: MSG after the BOM is not the record's JSON line: {e}"]
    sd = parsed.sd.get("ebguard@32473")
    if sd is None:
        problems.append(f"{where}: no ebguard@32473 structured data")
    elif sd.get("seq") != str(record.get("seq")) or sd.get("type") != record.get("type"):
        problems.append(f"{where}: structured data seq/type {sd.get('seq')}/{sd.get('type')} differ from the record's")
    if parsed.msgid != record.get("type"):
        problems.append(f"{where}: MSGID {parsed.msgid} is not the record type")
    return problems


def validate_syslog(path, framed):
    with open(path, "rb") as f:
        data = f.read()
    messages = []
    if framed:
        i = 0
        while i < len(data):
            space = data.find(b" ", i)
            length = data[i:space]
            if space < 0 or not length.isdigit() or length.startswith(b"0"):
                print(f"byte {i}: not an octet-counted frame (RFC 6587 §3.4.1)")
                return False
            end = space + 1 + int(length)
            if end > len(data):
                print(f"byte {i}: frame of {int(length)} bytes runs past the end")
                return False
            messages.append(data[space + 1:end])
            i = end
    else:
        messages = [line for line in data.split(b"\n") if line]
    problems = 0
    for n, message in enumerate(messages, 1):
        for problem in check_syslog(message, f"message {n}"):
            print(problem)
            problems += 1
    print(f"ok: {len(messages)} syslog messages checked, {problems} problems")
    return problems == 0 and len(messages) > 0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "ocsf" and len(sys.argv) == 4:
        ok = validate_ocsf(sys.argv[2], sys.argv[3])
    elif mode == "otlp" and len(sys.argv) == 3:
        ok = validate_otlp(sys.argv[2])
    elif mode in ("syslog-frames", "syslog-lines") and len(sys.argv) == 3:
        ok = validate_syslog(sys.argv[2], framed=mode == "syslog-frames")
    else:
        print(__doc__)
        sys.exit(2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
