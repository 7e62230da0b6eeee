package flatline

// SetSettingsFD sets s on a raw TCP socket descriptor, option by option as
// Dialer does (keepalive values before SO_KEEPALIVE; a zero value leaves
// the kernel's own unless the option is an on/off one), for example on one
// taken from another process with pidfd_getfd: the options change on the
// process's socket. It does not close fd. It is ReadSettingsFD's mirror.
func SetSettingsFD(fd int, s Settings) error { return setOptions(uintptr(fd), s) }
