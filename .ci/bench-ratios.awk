# Reads `go test -bench` output and prints, for every benchmark that has a baseline measured in the same
# run, the ratio to it. A baseline is a sub-benchmark named driver, in-process, handwritten or bare (the
# raw MongoDB driver, a call without the plugin host, a hand-written Temporal workflow), or a benchmark
# whose name ends in HandWritten; the others with the same prefix are compared with it.
#   slowdown = candidate ns/op ÷ baseline ns/op (lower is better; 1 = as fast as the baseline)
#   speed    = baseline ns/op ÷ candidate ns/op (higher is better; the share of the baseline's throughput)
function base_of(name,    p) {
  if (name ~ /HandWritten$/) { sub(/HandWritten$/, "", name); return name }
  if (match(name, /\/(driver|in-process|handwritten|bare)$/)) return substr(name, 1, RSTART - 1)
  return ""
}
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  for (i = 2; i < NF; i++) if ($(i + 1) == "ns/op") ns[name] = $i
  if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
{ print }
END {
  for (i = 1; i <= n; i++) { b = base_of(order[i]); if (b != "") baseline[b] = order[i] }
  printed = 0
  for (i = 1; i <= n; i++) {
    name = order[i]
    if (base_of(name) != "") continue
    prefix = name
    if (!(prefix in baseline)) { sub(/\/[^\/]*$/, "", prefix) }
    if (!(prefix in baseline)) continue
    b = baseline[prefix]
    if (ns[b] == 0 || ns[name] == 0) continue
    if (!printed) { printf "\n%-60s %-45s %10s %8s\n", "benchmark", "baseline", "slowdown", "speed"; printed = 1 }
    printf "%-60s %-45s %10.2f %8.2f\n", name, b, ns[name] / ns[b], ns[b] / ns[name]
  }
}
