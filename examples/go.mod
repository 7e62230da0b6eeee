module github.com/flatline-dev/flatline/examples

go 1.26.0

require github.com/flatline-dev/flatline v0.0.0

require golang.org/x/sys v0.49.0 // indirect

replace github.com/flatline-dev/flatline => ../
