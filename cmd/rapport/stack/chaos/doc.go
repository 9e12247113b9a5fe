// Package chaos holds Rapport's chaos tests (`make test-chaos`): they kill and cut the parts of a
// running Rapport while it works — SIGKILL of `rapport dev` with 200 instances in flight, SIGKILL of a
// worker while a second one stands by, the plugin process killed in the middle of a connector task, the
// store and Temporal unreachable for 20 seconds — and count afterwards that every instance completed,
// every acknowledged write and every ERP document exists exactly once, and no timer was lost. Each
// scenario prints its counts (instances, writes, ERP documents, duplicates, lost).
//
// They run only with RAPPORT_CHAOS=1: they take minutes, start real processes and send signals.
package chaos
