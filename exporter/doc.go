// Package exporter serves what package diag knows about every TCP socket
// of a host as Prometheus metrics, for every network namespace of the
// host: the containers' and pods' as well as its own.
//
// Each Interval, Refresh finds the host's network namespaces through the
// processes in them (/proc/PID/ns/net, deduplicated by inode) and the
// names under /run/netns (Discover), scans them in one pass with
// diag.ScanNamespaces (BPF iterators loaded once: in each namespace one
// walk of its sockets reads their options with what inet_diag would
// report, and one walk of every process's descriptors finds the owners
// of all; an inet_diag dump, pidfd_getfd and /proc where they cannot
// load) and keeps the result. A scrape of Handler's /metrics reads
// that result and never scans, so its cost does not grow with how often
// Prometheus asks.
//
// The metrics:
//
//	flatline_sockets{netns,verdict}                 gauge: sockets by verdict (ok, fragile, at-risk, slow, never, stuck-retransmitting, unknown)
//	flatline_false_kills_expected_per_hour{netns}   gauge: live connections expected to be declared dead in the next hour, at the loss each socket has seen
//	flatline_socket_worst_case_seconds              histogram: each socket's worst case; never-ending and unknown ones left out
//	flatline_process_sockets{pid,comm}              gauge: per process, top N by sockets over budget, the rest in pid="other"
//	flatline_process_sockets_over_budget{pid,comm}  gauge: sockets that would go unnoticed longer than the budget, or forever
//	flatline_process_worst_case_seconds{pid,comm}   gauge: the longest finite worst case of the process's sockets
//	flatline_deaths_total{netns,cause}              counter: connections the kernel ended, by cause, from a DeathSource
//	flatline_deaths_source_up                       gauge: 1 while the DeathSource runs
//	flatline_deaths_lost_total                      counter: deaths a LossReporter source dropped
//	flatline_netns_info{netns,name,pid,comm,scanned} gauge: the namespaces found
//	flatline_uncovered{what}                        gauge: namespaces, processes and sockets the scan could not see
//	flatline_budget_seconds                         gauge: the budget
//	flatline_scan_duration_seconds, flatline_scan_timestamp_seconds, flatline_scan_success, flatline_scans_total, flatline_scan_errors_total{stage}
//	flatline_collect_errors_total                   counter: series left out of a scrape (then flatline_scan_success is 0)
//	flatline_scrape_duration_seconds                histogram: time to serve /metrics
//
// Cardinality is bounded: one series per verdict and per kernel death
// cause per namespace (bounded by the pods of a node; a gone namespace's
// series are dropped), a fixed histogram, and Config.TopProcesses + 2
// process rows.
//
// Labels from the outside world (comm, namespace names) are made valid
// UTF-8 and bounded; a namespace's death counters restart when another
// namespace gets its inode; Serve bounds what HTTP clients may hold.
//
// Nothing the exporter reads from the host stops it: a namespace it may
// not enter, a process it may not read, a socket that closes mid-scan are
// logged and counted in flatline_uncovered and flatline_scan_errors_total.
// Discovery and scanning need Linux; elsewhere Refresh fails with an
// error matching flatline.ErrNotSupported and the exporter serves
// flatline_scan_success 0.
package exporter
