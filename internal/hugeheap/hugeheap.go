// Package hugeheap lets a short-lived command ask for transparent huge
// pages for the Go heap it is about to grow.
//
// A process touching fresh anonymous memory takes one page fault per
// 4 KiB page. On the machines flatline is measured on (2-core VMs) a
// fault costs about 12 µs, so the 20 MB a scan of 20,000 sockets
// allocates cost about 60 ms in faults alone, more than a third of the
// scan. With the host's transparent huge pages in "madvise" mode (the
// default of Debian and Ubuntu) the Go runtime does not ask for huge
// pages for its heap; Reserve does, for the span of heap a command is
// about to use: one fault per 2 MiB.
//
// Only for processes that scan once and exit (flatline inspect): a
// long-lived process (the exporter) should leave the heap to the
// runtime, whose scavenger returns free pages to the system 4 KiB at a
// time and would split the huge pages again.
package hugeheap
