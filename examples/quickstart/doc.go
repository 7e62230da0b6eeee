// Package quickstart holds the README's snippets as compiled examples, so
// that the README cannot drift from the API: every line of its quick start
// is one of these functions.
package quickstart
