// nubo's bootstrap for the nodejs runtimes.
//
// Speaks the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API: loads the
// handler named by $_HANDLER from $LAMBDA_TASK_ROOT (CommonJS or ES module),
// then loops on invocation/next, awaiting the handler (async, promise or
// callback style) and posting its result or error in the shapes AWS's node
// runtime reports.

import http from "node:http";
import path from "node:path";
import fs from "node:fs";
import { pathToFileURL } from "node:url";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const PREFIX = "/2018-06-01/runtime";

function request(method, route, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: PREFIX + route, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorDocument(errorType, errorMessage, stack = []) {
  return { errorType, errorMessage, trace: stack };
}

function postError(route, document, errorType) {
  return request("POST", route, JSON.stringify(document), {
    "content-type": "application/json",
    "lambda-runtime-function-error-type": errorType,
  });
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) return [null, errorDocument("Runtime.MalformedHandlerName", `Bad handler ${spec}`)];
  const moduleName = spec.slice(0, dot);
  const functionName = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || ".";
  const candidates = [".js", ".mjs", ".cjs"].map((ext) => path.resolve(root, moduleName + ext));
  const file = candidates.find((candidate) => fs.existsSync(candidate));
  if (!file) {
    return [null, errorDocument("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`)];
  }
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    const type = error instanceof SyntaxError ? "Runtime.UserCodeSyntaxError" : "Runtime.ImportModuleError";
    return [null, errorDocument(type, `${error.name}: ${error.message}`, String(error.stack || "").split("\n"))];
  }
  const handler = module[functionName] ?? module.default?.[functionName];
  if (typeof handler !== "function") {
    return [null, errorDocument("Runtime.HandlerNotFound", `${moduleName}.${functionName} is undefined or not exported`)];
  }
  return [handler, null];
}

function invokeHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    const callback = (error, result) => (error ? reject(error) : resolve(result));
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") returned.then(resolve, reject);
      else if (handler.length < 3) resolve(returned);
    } catch (error) {
      reject(error);
    }
  });
}

async function main() {
  const [handler, initError] = await loadHandler();
  if (initError) {
    console.error(`${initError.errorType}: ${initError.errorMessage}`);
    await postError("/init/error", initError, initError.errorType);
    process.exit(1);
  }
  for (;;) {
    let next;
    try {
      next = await request("GET", "/invocation/next");
    } catch {
      process.exit(0); // the service that ran this environment is gone
    }
    if (next.status !== 200) process.exit(0);
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    const deadline = Number(next.headers["lambda-runtime-deadline-ms"] || 0);
    process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] || "";
    const clientContext = next.headers["lambda-runtime-client-context"];
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: clientContext ? JSON.parse(clientContext) : undefined,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    try {
      const event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
      const result = await invokeHandler(handler, event, context);
      const payload = result === undefined ? "null" : JSON.stringify(result);
      await request("POST", `/invocation/${requestId}/response`, payload, { "content-type": "application/json" });
    } catch (error) {
      const document = errorDocument(error?.name || "Error", error?.message ?? String(error), String(error?.stack || "").split("\n"));
      console.error(`ERROR\tInvoke Error\t${JSON.stringify(document)}`);
      await postError(`/invocation/${requestId}/error`, document, document.errorType);
    }
  }
}

main();
