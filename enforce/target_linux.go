package enforce

// IsCgroupRoot reports whether path is the root of a cgroup2 mount: the
// cgroup every process of the host is in or below (its id is 1).
func IsCgroupRoot(path string) (bool, error) {
	cg, id, err := openCgroup2(path)
	if err != nil {
		return false, err
	}
	cg.Close()
	return id == 1, nil
}
