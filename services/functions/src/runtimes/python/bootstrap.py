"""nubo's bootstrap for the python runtimes.

Speaks the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API: imports the
handler named by $_HANDLER from $LAMBDA_TASK_ROOT, then loops on
invocation/next, calling the handler and posting its result or error.
Errors use the shapes AWS's python runtime reports (Runtime.ImportModuleError,
Runtime.HandlerNotFound, Runtime.MarshalError, and the exception's class name).
"""

import http.client
import importlib
import json
import os
import sys
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host, self.port = host, int(port)
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        # One keep-alive connection; reconnect once if the server closed it.
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port)
            try:
                self.connection.request(method, API_PREFIX + path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                return response, response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise

    def post_json(self, path, document, error_type=None):
        headers = {"Content-Type": "application/json"}
        if error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        self.request("POST", path, json.dumps(document).encode(), headers)


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
        self.client_context = json.loads(client_context) if client_context else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def error_document(error_type, message, stack=None):
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack or []}


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        return None, error_document("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    module_name = module_name.replace("/", ".")
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return None, error_document("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    except SyntaxError as error:
        return None, error_document("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}")
    except Exception as error:  # the module raised while importing
        return None, error_document(type(error).__name__, str(error), traceback.format_tb(error.__traceback__))
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, error_document("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


def main():
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    handler, init_error = load_handler()
    if init_error is not None:
        print(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}", file=sys.stderr, flush=True)
        api.post_json("/init/error", init_error, init_error["errorType"])
        sys.exit(1)
    while True:
        try:
            response, body = api.request("GET", "/invocation/next")
        except OSError:
            # The service that ran this environment is gone.
            sys.exit(0)
        if response.status != 200:
            sys.exit(0)
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        os.environ["_X_AMZN_TRACE_ID"] = response.getheader("Lambda-Runtime-Trace-Id") or ""
        context = Context(
            request_id,
            int(response.getheader("Lambda-Runtime-Deadline-Ms") or 0),
            response.getheader("Lambda-Runtime-Invoked-Function-Arn"),
            response.getheader("Lambda-Runtime-Client-Context"),
        )
        try:
            event = json.loads(body) if body else {}
            result = handler(event, context)
        except Exception as error:
            stack = traceback.format_tb(error.__traceback__)
            document = error_document(type(error).__name__, str(error), stack)
            document["requestId"] = request_id
            print(f"[ERROR] {type(error).__name__}: {error}\nTraceback (most recent call last):\n{''.join(stack)}", file=sys.stderr, flush=True)
            api.post_json(f"/invocation/{request_id}/error", document, "Unhandled")
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as error:
            document = error_document("Runtime.MarshalError", f"Unable to marshal response: {error}")
            document["requestId"] = request_id
            api.post_json(f"/invocation/{request_id}/error", document, "Runtime.MarshalError")
            continue
        api.request("POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
