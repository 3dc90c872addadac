#!/usr/bin/env bash
# `sluice step validate-data` on real files: RFC 4180 corner cases read
# right (quotes, doubled quotes, embedded newlines, CRLF, BOM), bad data and
# bad expectation files exit 2 naming FILE:LINE[:COL], failing expectations
# exit 1 with the report's numbers checked in Python, outputs for the engine.
set -eu
. "$TESTS_DIR/integration/lib.sh"
py() { /usr/bin/python3 "$@"; }

# ---- a file with every CSV corner case, all expectations met -------------------
printf '\xef\xbb\xbfid,name,plan,score,note\r\n' >data.csv
printf '1,"Smith, J",pro,0.5,"said ""hi"""\r\n' >>data.csv
printf '2,"multi\r\nline",basic,1.5,\r\n' >>data.csv
printf '3,Ann,basic,,plain\r\n' >>data.csv
printf '4,"",pro,2.5,"a\nb"\r\n' >>data.csv
cat >exp.yaml <<'EOF'
columns: {id: int, name: string, plan: string, score: float}
row_count: {min: 4, max: 4}
expect:
  id: {unique: true, not_null: true, between: {min: 1, max: 4}}
  plan: {in_set: [basic, pro]}
  score: {mean_between: {min: 1.4, max: 1.6}, null_rate_max: 0.25}
  note: {regex: '^(said|plain|a)'}
EOF
export SLUICE_OUTPUT=$T/outputs
run_sluice 0 step validate-data --with data=data.csv --with expectations=exp.yaml
expect_contains "$ERR" "16 of 16 expectations met"
expect_file validate-data.json
expect_file validate-data.profile.json
expect_eq "$(cat outputs)" "success=true
failed=0"
py - <<'EOF'
import json
r = json.load(open("validate-data.json"))
assert r["success"] is True, r
s = r["statistics"]
assert (s["evaluated_expectations"], s["successful_expectations"], s["unsuccessful_expectations"],
        s["success_percent"]) == (16, 16, 0, 100.0), s
p = json.load(open("validate-data.profile.json"))
assert p["rows"] == 4, p["rows"]
cols = p["columns"]
# the BOM is not part of the first name; quoted commas, doubled quotes,
# CRLF inside quotes and an empty quoted field (a null) all read right
assert list(cols) == ["id", "name", "plan", "score", "note"], list(cols)
top = {t["value"]: t["count"] for t in cols["name"]["top"]}
assert top == {"Smith, J": 1, "multi\r\nline": 1, "Ann": 1}, top
assert cols["name"]["nulls"] == 1
note = {t["value"] for t in cols["note"]["top"]}
assert note == {'said "hi"', "plain", "a\nb"}, note
assert cols["score"]["mean"] == 1.5 and cols["score"]["nulls"] == 1, cols["score"]
assert cols["id"]["type"] == "int" and cols["id"]["p50"] == 2.5, cols["id"]
EOF

# ---- failing expectations: exit 1, the reason names them, GE's numbers -----------
/usr/bin/python3 - <<'EOF'
import random
rnd = random.Random(7)
with open("people.csv", "w") as f:
    f.write("age,plan,email\n")
    for i in range(1000):
        age = "" if i % 50 == 0 else str(150 + i if i % 97 == 0 else rnd.randint(0, 99))
        plan = "gold" if i % 200 == 3 else rnd.choice(["basic", "pro"])
        email = "bad" if i % 333 == 1 else "u%d@example.com" % (i % 990)
        f.write("%s,%s,%s\n" % (age, plan, email))
EOF
cat >people.yaml <<'EOF'
columns: {age: int, plan: string}
row_count: {min: 100}
expect:
  age:
    not_null: {mostly: 0.98}
    between: {min: 0, max: 120, mostly: 0.995}
  plan: {in_set: [basic, pro]}
  email: {regex: '@', unique: true}
EOF
rm -f outputs
run_sluice 1 step validate-data --with data=people.csv --with expectations=people.yaml \
	--with report=reports/people.json
expect_contains "$ERR" "sluice: step validate-data: 4 of 10 expectations failed: "
expect_contains "$ERR" "expect_column_values_to_be_between(age), expect_column_values_to_be_in_set(plan), expect_column_values_to_match_regex(email), expect_column_values_to_be_unique(email)"
expect_eq "$(cat outputs)" "success=false
failed=4"
expect_file reports/people.profile.json
py - <<'EOF'
import json, re
rows = [l.rstrip("\n").split(",") for l in open("people.csv")][1:]
rep = json.load(open("reports/people.json"))
assert rep["success"] is False
st = rep["statistics"]
assert (st["evaluated_expectations"], st["unsuccessful_expectations"]) == (10, 4), st
res = {(r["expectation_type"], r["column"]): r for r in rep["results"]}

def check(key, unexpected, looked_at, mostly, indexes):
    r = res[key]
    assert r["unexpected_count"] == len(unexpected), (key, r["unexpected_count"], len(unexpected))
    pct = 100.0 * len(unexpected) / looked_at if looked_at else None
    assert abs(r["unexpected_percent"] - pct) < 1e-9, (key, r["unexpected_percent"], pct)
    assert r["success"] == ((looked_at - len(unexpected)) / looked_at >= mostly), key
    assert r["element_count"] == len(rows)
    assert len(r["partial_unexpected_list"]) == min(20, len(unexpected)), key
    if indexes is not None:
        assert r["partial_unexpected_index_list"] == indexes[:20], (key, r["partial_unexpected_index_list"])

ages = [r[0] for r in rows]
nonnull = [(i, a) for i, a in enumerate(ages) if a != ""]
# not_null: over all rows; between: nulls left out of the denominator (GE)
check(("expect_column_values_to_not_be_null", "age"),
      [a for a in ages if a == ""], len(rows), 0.98, [i for i, a in enumerate(ages) if a == ""])
bad = [(i, a) for i, a in nonnull if not 0 <= int(a) <= 120]
check(("expect_column_values_to_be_between", "age"), bad, len(nonnull), 0.995, [i for i, _ in bad])
assert res[("expect_column_values_to_be_between", "age")]["partial_unexpected_list"] == [int(a) for _, a in bad][:20]
assert res[("expect_column_values_to_be_between", "age")]["kwargs"] == {
    "column": "age", "min_value": 0, "max_value": 120, "mostly": 0.995}
plans = [r[1] for r in rows]
bad = [(i, p) for i, p in enumerate(plans) if p not in ("basic", "pro")]
check(("expect_column_values_to_be_in_set", "plan"), bad, len(rows), 1.0, [i for i, _ in bad])
emails = [r[2] for r in rows]
bad = [(i, e) for i, e in enumerate(emails) if not re.search("@", e)]
check(("expect_column_values_to_match_regex", "email"), bad, len(rows), 1.0, [i for i, _ in bad])
# unique: every occurrence of a repeated value (pandas duplicated(keep=False))
from collections import Counter
c = Counter(emails)
dups = [e for e in emails if c[e] > 1]
check(("expect_column_values_to_be_unique", "email"), dups, len(rows), 1.0, None)
r = res[("expect_table_row_count_to_be_between", None)]
assert r["success"] and r["observed_value"] == 1000, r
EOF

# ---- JSON Lines ----------------------------------------------------------------------
cat >events.jsonl <<'EOF'
{"user": "a", "n": 1, "tags": ["x"], "ok": true}
{"user": "b", "n": 2.5, "ok": false, "later": 1}

{"user": null, "n": 3, "tags": {"k": [1, 2]}, "ok": true}
EOF
cat >events.yaml <<'EOF'
columns: {user: string, n: float, tags: string, ok: bool}
expect:
  user: {not_null: {mostly: 0.6}}
  tags: {regex: '^[[{]'}
  n: {mean_between: {min: 2.1, max: 2.2}}
EOF
run_sluice 0 step validate-data --with data=events.jsonl --with expectations=events.yaml \
	--with report=ev.json --with profile=ev-profile.json
py - <<'EOF'
import json
p = json.load(open("ev-profile.json"))
assert p["format"] == "jsonl" and p["rows"] == 3, p
assert list(p["columns"]) == ["user", "n", "tags", "ok"], list(p["columns"])
tags = {t["value"] for t in p["columns"]["tags"]["top"]}
assert tags == {'["x"]', '{"k":[1,2]}'}, tags
assert p["columns"]["tags"]["nulls"] == 1
assert abs(p["columns"]["n"]["mean"] - 6.5 / 3) < 1e-12
EOF
# a JSON line that is not an object
printf '{"a": 1}\n{"a": 2}\n[3]\n' >bad.jsonl
printf 'columns: [a]\n' >a.yaml
run_sluice 2 step validate-data --with data=bad.jsonl --with expectations=a.yaml
expect_contains "$ERR" "bad.jsonl:3: expected a JSON object, found an array"

# ---- bad data: exit 2 with the line ---------------------------------------------------
printf 'a,b\n1,2\n"x\ny",3\n4,5\n6\n7,8\n' >ragged.csv
printf 'columns: [a, b]\n' >ab.yaml
run_sluice 2 step validate-data --with data=ragged.csv --with expectations=ab.yaml
expect_contains "$ERR" "ragged.csv:6: row has 1 field, the header has 2"
expect_no_file validate-data.json.tmp
printf 'a,b\n1,2\n3,"open\n4,5\n' >open.csv
run_sluice 2 step validate-data --with data=open.csv --with expectations=ab.yaml
expect_contains "$ERR" "open.csv:3: quoted field not closed before the end of the file"
printf 'a,b\n1,2\n3,\xff\n' >latin1.csv
run_sluice 2 step validate-data --with data=latin1.csv --with expectations=ab.yaml
expect_contains "$ERR" "latin1.csv:3: invalid UTF-8"
run_sluice 2 step validate-data --with data=missing.csv --with expectations=ab.yaml
expect_contains "$ERR" "missing.csv: No such file or directory"
# the format can be forced: this "CSV" is JSON Lines
cp events.jsonl events.txt
run_sluice 0 step validate-data --with data=events.txt --with expectations=events.yaml \
	--with format=jsonl --with report=ev2.json

# ---- bad expectations: exit 2 with FILE:LINE:COL and a suggestion ---------------------
cat >typo.yaml <<'EOF'
columns: {a: int}
expect:
  a:
    betwen: {min: 0, max: 10}
    in_set: {valeus: [1]}
EOF
run_sluice 2 step validate-data --with data=ragged.csv --with expectations=typo.yaml
expect_contains "$ERR" "typo.yaml:4:5: unknown key 'betwen' (did you mean 'between'?)"
expect_contains "$ERR" "typo.yaml:5:14: unknown key 'valeus' (did you mean 'values'?)"
printf 'columns: {a: integer}\n' >type.yaml
run_sluice 2 step validate-data --with data=ragged.csv --with expectations=type.yaml
expect_contains "$ERR" "type.yaml:1:14: unknown type 'integer' for column 'a' (did you mean 'int'?)"
# a with-key typo is caught before the step runs
run_sluice 2 step validate-data --with data=data.csv --with expectation=exp.yaml
expect_contains "$ERR" "did you mean 'expectations'?"
echo ok
