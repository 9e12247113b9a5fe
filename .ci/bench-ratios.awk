# Turns the output of several rounds of `go test -bench` (see .ci/bench) into one Markdown table: each
# figure, its same-run baseline, the ratio and its spread over the rounds.
#
# Input: header lines starting with "# " (machine, commit, date: printed first), "round: N" before each
# round, go test's "pkg: ..." lines and benchmark result lines. Anything else is ignored.
#
# A baseline is a sub-benchmark named driver, in-process, handwritten, bare, empty or baseline (the raw
# MongoDB driver, a call without the plugin host, a hand-written Temporal workflow, the same work without
# the feature measured, an empty server or store, anything else), or a benchmark whose name ends in
# HandWritten; its siblings (same parent, same package) are compared with it. In every round the ratio
# candidate ns/op ÷ baseline ns/op is taken from that round's two runs, which ran one after the other;
# the table shows the median ratio and the lowest and highest (1 = as fast as the baseline, 2 = twice
# the time). Figures without a baseline are listed after it with their median and spread.

function base_of(name) {
  if (name ~ /HandWritten$/) { sub(/HandWritten$/, "", name); return name }
  if (match(name, /\/(driver|in-process|handwritten|bare|empty|baseline)$/)) return substr(name, 1, RSTART - 1)
  return ""
}

# human prints a duration in ns with a unit.
function human(ns) {
  if (ns == "") return "–"
  if (ns >= 1e9) return sprintf("%.2f s", ns / 1e9)
  if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
  if (ns >= 1e3) return sprintf("%.2f µs", ns / 1e3)
  return sprintf("%.1f ns", ns)
}

# median sorts the n values of v[1..n] in place and returns the middle one (mean of the two middle ones).
function median(v, n,    i, j, t) {
  for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
  if (n % 2) return v[(n + 1) / 2]
  return (v[n / 2] + v[n / 2 + 1]) / 2
}

BEGIN { round = 1; pkg = "" }
/^# / { header[++nh] = substr($0, 3); next }
/^round: / { round = $2 + 0; if (round > rounds) rounds = round; next }
/^pkg: / { pkg = $2; sub(/^github\.com\/rapportcrm\/rapport\//, "", pkg); next }
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
  key = pkg " " name
  if (!(key in seen)) { seen[key] = 1; order[++n] = key; pkgof[key] = pkg; nameof[key] = name }
  for (i = 2; i < NF; i++) {
    if ($(i + 1) == "ns/op") ns[key, round] = $i
    else if ($(i + 1) !~ /^(B\/op|allocs\/op)$/ && $i ~ /^[0-9.e+-]+$/ && $(i + 1) !~ /^[0-9.e+-]+$/) {
      if (!((key, $(i + 1)) in hasunit)) { hasunit[key, $(i + 1)] = 1; units[key] = units[key] " " $(i + 1) }
      metric[key, $(i + 1), round] = $i
    }
  }
  if (rounds < round) rounds = round
  next
}
END {
  for (i = 1; i <= nh; i++) print "- " header[i]
  for (i = 1; i <= n; i++) {
    b = base_of(nameof[order[i]])
    if (b != "") baseline[pkgof[order[i]] " " b] = order[i]
  }
  print ""
  print "| package | figure | baseline | figure (median) | baseline (median) | ratio (median) | min – max | rounds |"
  print "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for (i = 1; i <= n; i++) {
    key = order[i]
    if (base_of(nameof[key]) != "") continue
    parent = pkgof[key] " " nameof[key]
    if (!(parent in baseline)) sub(/\/[^\/]*$/, "", parent)
    if (!(parent in baseline)) continue
    b = baseline[parent]; compared[key] = 1; compared[b] = 1
    k = 0; kc = 0; kb = 0; lo = ""; hi = ""
    for (r = 1; r <= rounds; r++) {
      if ((key, r) in ns) cv[++kc] = ns[key, r]
      if ((b, r) in ns) bv[++kb] = ns[b, r]
      if (!((key, r) in ns) || !((b, r) in ns) || ns[b, r] == 0) continue
      x = ns[key, r] / ns[b, r]; rv[++k] = x
      if (lo == "" || x < lo) lo = x
      if (hi == "" || x > hi) hi = x
    }
    if (k == 0) continue
    printf "| %s | %s | %s | %s | %s | **%.2f** | %.2f – %.2f | %d |\n", pkgof[key], nameof[key], nameof[b], human(median(cv, kc)), human(median(bv, kb)), median(rv, k), lo, hi, k
  }
  others = 0
  for (i = 1; i <= n; i++) {
    key = order[i]
    if (key in compared) continue
    if (!others) {
      print ""
      print "Figures without a baseline (median over the rounds; min – max of ns/op; other reported metrics as medians):"
      print ""
      print "| package | figure | ns/op (median) | min – max | other metrics | rounds |"
      print "| --- | --- | ---: | ---: | --- | ---: |"
      others = 1
    }
    kc = 0; lo = ""; hi = ""
    for (r = 1; r <= rounds; r++) if ((key, r) in ns) {
      cv[++kc] = ns[key, r]
      if (lo == "" || ns[key, r] < lo) lo = ns[key, r]
      if (hi == "" || ns[key, r] > hi) hi = ns[key, r]
    }
    extra = ""
    nu = split(units[key], ul, " ")
    for (u = 1; u <= nu; u++) {
      km = 0
      for (r = 1; r <= rounds; r++) if ((key, ul[u], r) in metric) mv[++km] = metric[key, ul[u], r]
      if (km) extra = extra sprintf("%s%.4g %s", extra == "" ? "" : ", ", median(mv, km), ul[u])
    }
    if (kc == 0) continue
    printf "| %s | %s | %s | %s – %s | %s | %d |\n", pkgof[key], nameof[key], human(median(cv, kc)), human(lo), human(hi), extra, kc
  }
}
