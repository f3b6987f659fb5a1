#!/usr/bin/env bash
# PrairieLearn's entrypoint for backprop questions: it runs in the grading container with the
# job in /grade (tests/autograder.json, student/answer.json, data/data.json) and leaves
# /grade/results/results.json. The image must have backprop-service installed
# (docs/prairielearn-grader/Dockerfile). Whatever is wrong with the student's file, or with
# the question's configuration, backprop-service says in results.json; if the grader itself
# cannot run, this script still leaves a results.json that says so (the student keeps the
# attempt: "gradable": false).
#
# GRADE_ROOT and BACKPROP_SERVICE let you try it out anywhere:
#   GRADE_ROOT=/tmp/grade BACKPROP_SERVICE=.venv/bin/backprop-service ./grade.sh
set -uo pipefail
root="${GRADE_ROOT:-/grade}"
grader="${BACKPROP_SERVICE:-backprop-service}"
if ! "$grader" autograder prairielearn --root "$root"; then
    mkdir -p "$root/results"
    cat > "$root/results/results.json" <<'JSON'
{"gradable": false, "message": "The grader could not run (your answer is not at fault): tell your instructor.", "format_errors": ["The grader could not run (your answer is not at fault): tell your instructor."]}
JSON
fi
