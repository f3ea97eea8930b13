"""nubo's runtime for python functions, started by bootstrap.py.

Speaks the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API: imports the
handler named by $_HANDLER from $LAMBDA_TASK_ROOT, then loops on
invocation/next, calling the handler and posting its result or error.
Errors use the shapes AWS's python runtime reports (Runtime.ImportModuleError,
Runtime.HandlerNotFound, Runtime.MarshalError, and the exception's class name).

A cold start pays for every module imported here before the handler's own,
so this imports only what a bare interpreter has already loaded plus two C
modules: `_socket` (the `socket` package pulls in `enum` and `selectors`;
`http.client` pulls in `email` and `ssl`, together four times a bare start)
and `_json` (the `json` package imports `re`). `traceback` is imported only
when there is an error to report.
"""

import _socket
import os
import sys
import time

API_PREFIX = "/2018-06-01/runtime"


def _json_codec():
    """`loads` and `dumps` with the json package's default settings, built
    on its C accelerator; the json package itself where that differs."""
    try:
        import _json

        class Decoding:
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
            memo = {}

        scan = _json.make_scanner(Decoding())
        whitespace = " \t\n\r"

        def loads(text):
            start = len(text) - len(text.lstrip(whitespace))
            try:
                value, end = scan(text, start)
            except StopIteration:
                import json

                return json.loads(text)  # raises the json package's own error
            if text[end:].strip(whitespace):
                import json

                return json.loads(text)
            return value

        def default(value):
            raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")

        encode = _json.make_encoder({}, default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)

        def dumps(value):
            # The encoder keeps the objects it is inside of, to find cycles.
            encode.markers.clear()
            return "".join(encode(value, 0))

        # Not `assert`: PYTHONOPTIMIZE, which a function may set, drops those.
        sample = {"a": [1, 2.5, "\u00e9", None, True]}
        if loads(' {"a": [1, 2.5, "\\u00e9", null, true]} ') != sample or dumps(sample) != '{"a": [1, 2.5, "\\u00e9", null, true]}':
            raise ValueError("the accelerator does not behave as the json package")
        return loads, dumps
    except Exception:
        import json

        return json.loads, json.dumps


json_loads, json_dumps = _json_codec()


class RuntimeApi:
    """An HTTP/1.1 client on one keep-alive connection, for the few
    requests the Runtime API answers (each with a Content-Length or
    chunked)."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.family = _socket.AF_INET6 if ":" in self.host else _socket.AF_INET
        self.connection = None
        self.buffered = b""

    def connect(self):
        connection = _socket.socket(self.family, _socket.SOCK_STREAM)
        connection.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        connection.connect((self.host, self.port))
        self.connection, self.buffered = connection, b""

    def close(self):
        if self.connection is not None:
            self.connection.close()
        self.connection, self.buffered = None, b""

    def request(self, method, path, body=b"", headers=None):
        """Returns (status, headers with lower-case names, body)."""
        host = f"[{self.host}]" if self.family == _socket.AF_INET6 else self.host
        lines = [f"{method} {API_PREFIX}{path} HTTP/1.1", f"Host: {host}:{self.port}", f"Content-Length: {len(body)}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body
        # A kept-alive connection the server closed while idle fails before
        # any of the answer arrives: then, and only then, the request is
        # sent again on a new one. Anything else could run an invocation
        # or post a result twice.
        reused = self.connection is not None
        if not reused:
            self.connect()
        try:
            self.connection.sendall(message)
            self.receive()
        except OSError:
            self.close()
            if not reused:
                raise
            self.connect()
            self.connection.sendall(message)
            self.receive()
        try:
            return self.response()
        except (OSError, ValueError, IndexError) as error:
            self.close()
            raise ConnectionError(f"the runtime api answered badly: {error}") from error

    def receive(self):
        chunk = self.connection.recv(65536)
        if not chunk:
            raise ConnectionError("the runtime api closed the connection")
        self.buffered += chunk

    def read_until(self, marker):
        while True:
            index = self.buffered.find(marker)
            if index >= 0:
                line, self.buffered = self.buffered[:index], self.buffered[index + len(marker):]
                return line
            self.receive()

    def read_exactly(self, size):
        if len(self.buffered) < size:
            parts, have = [self.buffered], len(self.buffered)
            while have < size:
                chunk = self.connection.recv(min(size - have, 1 << 20))
                if not chunk:
                    raise ConnectionError("the runtime api closed the connection")
                parts.append(chunk)
                have += len(chunk)
            self.buffered = b"".join(parts)
        data, self.buffered = self.buffered[:size], self.buffered[size:]
        return data

    def response(self):
        head = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            parts = []
            while True:
                size = int(self.read_until(b"\r\n").split(b";", 1)[0], 16)
                if size == 0:
                    while self.read_until(b"\r\n"):  # trailers
                        pass
                    break
                parts.append(self.read_exactly(size))
                self.read_exactly(2)
            body = b"".join(parts)
        else:
            body = self.read_exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def post_json(self, path, document, error_type=None):
        headers = {"Content-Type": "application/json"}
        if error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        self.request("POST", path, json_dumps(document).encode(), headers)


class Context:
    def __init__(self, request_id, deadline_ms, function_arn, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = json_loads(client_context) if client_context else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def error_document(error_type, message, stack=None):
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack or []}


def stack_of(error):
    import traceback

    return traceback.format_tb(error.__traceback__)


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        return None, error_document("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    module_name = module_name.replace("/", ".")
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    try:
        __import__(module_name)
        module = sys.modules[module_name]
    except ImportError as error:
        return None, error_document("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    except SyntaxError as error:
        return None, error_document("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}")
    except Exception as error:  # the module raised while importing
        return None, error_document(type(error).__name__, str(error), stack_of(error))
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, error_document("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


def main():
    try:
        serve(RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"]))
    except OSError:
        # The service that ran this environment is gone.
        sys.exit(0)


def serve(api):
    handler, init_error = load_handler()
    if init_error is not None:
        print(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}", file=sys.stderr, flush=True)
        api.post_json("/init/error", init_error, init_error["errorType"])
        sys.exit(1)
    while True:
        status, headers, body = api.request("GET", "/invocation/next")
        if status != 200:
            sys.exit(0)
        request_id = headers.get("lambda-runtime-aws-request-id")
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("lambda-runtime-trace-id", "")
        try:
            context = Context(
                request_id,
                int(headers.get("lambda-runtime-deadline-ms") or 0),
                headers.get("lambda-runtime-invoked-function-arn"),
                headers.get("lambda-runtime-client-context"),
            )
            event = json_loads(body.decode()) if body else {}
            result = handler(event, context)
        except Exception as error:
            stack = stack_of(error)
            document = error_document(type(error).__name__, str(error), stack)
            document["requestId"] = request_id
            print(f"[ERROR] {type(error).__name__}: {error}\nTraceback (most recent call last):\n{''.join(stack)}", file=sys.stderr, flush=True)
            api.post_json(f"/invocation/{request_id}/error", document, "Unhandled")
            continue
        try:
            payload = json_dumps(result).encode()
        except (TypeError, ValueError, RecursionError) as error:
            document = error_document("Runtime.MarshalError", f"Unable to marshal response: {error}")
            document["requestId"] = request_id
            api.post_json(f"/invocation/{request_id}/error", document, "Runtime.MarshalError")
            continue
        api.request("POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})
