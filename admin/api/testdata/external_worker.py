#!/usr/bin/env python3
"""An external task worker for Rapport's fetch-and-lock REST API, with nothing but the standard library.

usage: external_worker.py BASE_URL TOKEN TYPE ACTION [SECONDS]

It fetches and locks one task of TYPE (waiting up to SECONDS, default 30) and then, by ACTION:
  complete  completes it with {"paid": true, "receipt": "R-<orderId>", "charged": <amount>}
  error     throws the BPMN error CARD_DECLINED
  fail      reports a failure with no retries left (the process gets an incident)
and prints the task it handled as JSON. This is the worked example of the README (engine/bpmn).
"""
import json
import sys
import time
import urllib.request

base, token, task_type, action = sys.argv[1:5]
deadline = time.time() + (float(sys.argv[5]) if len(sys.argv) > 5 else 30)
worker = "python-worker"


def call(path, body):
    req = urllib.request.Request(base + "/api/v1/external-tasks/" + path, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


while True:
    tasks = call("fetchAndLock", {"workerId": worker, "maxTasks": 1,
                                  "topics": [{"type": task_type, "lockDuration": 60000}]})
    if tasks:
        break
    if time.time() > deadline:
        sys.exit("no %s task within the time" % task_type)
    time.sleep(0.2)

task = tasks[0]
variables = task["variables"]
if action == "complete":
    call(task["id"] + "/complete", {"workerId": worker, "variables": {
        "paid": True, "receipt": "R-" + str(variables["orderId"]), "charged": variables["amount"]}})
elif action == "error":
    call(task["id"] + "/bpmnError", {"workerId": worker, "errorCode": "CARD_DECLINED", "errorMessage": "the card was declined"})
elif action == "fail":
    call(task["id"] + "/failure", {"workerId": worker, "errorMessage": "payment provider unreachable", "retries": 0})
else:
    sys.exit("unknown action " + action)
print(json.dumps(task))
