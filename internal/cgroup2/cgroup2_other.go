//go:build !linux

package cgroup2
