"""The ceiling: a bare Flask route under the same waitress settings as Callgoose."""

import argparse
import json

import waitress
from flask import Flask, request

app = Flask(__name__)


@app.post("/v1/process")
def process():
    request.get_data()
    return app.response_class(json.dumps({"id": "x"}), status=202, mimetype="application/json")


PAGE = "<!doctype html><title>bare</title>" + "<tr><td>row</td><td>cell</td></tr>" * 50


@app.get("/page")
def page():
    """The ceiling for a page: a fixed HTML body of about the size of a list page's rows."""
    return PAGE


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    waitress.serve(app, host="127.0.0.1", port=args.port, threads=args.threads, ident="bare")
