package site

import (
	"fmt"
	"strings"
)

// Route patterns follow Walrus's portal (legacy matcher): '*' matches any run of characters,
// '/' included; every other character is literal; at most two '*'. Walrus turns a pattern into
// a regular expression in which '.' also matches any character; Floe keeps '.' literal, so
// "/index.html" matches only itself.
const maxRouteStars = 2

// ValidateRoutePattern checks a route pattern: it starts with '/' (or is "*"), holds at most
// two '*' and none of the characters Walrus refuses ( ( ) [ ] { } + ? ^ $ | \ ), and no
// control character.
func ValidateRoutePattern(p string) error {
	if p == "" || len(p) > MaxPathLen || (p[0] != '/' && p != "*") {
		return fmt.Errorf("%w: route %q must start with '/'", ErrInvalidPattern, p)
	}
	if strings.ContainsAny(p, "()[]{}+?^$|\\") || strings.Count(p, "*") > maxRouteStars || !validHeaderValue(p) || strings.ContainsAny(p, " \t") {
		return fmt.Errorf("%w: route %q (at most %d '*', no ( ) [ ] { } + ? ^ $ | \\ or spaces)", ErrInvalidPattern, p, maxRouteStars)
	}
	return nil
}

// matchRoute reports whether path matches the route pattern ('*' matches any run of
// characters). With at most two stars the greedy matcher with one backtrack point runs in
// O(len(pattern) * len(path)).
func matchRoute(pattern, path string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(path) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && pattern[pi] == path[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// MatchRoute returns the target of the longest route pattern that matches path (ties: the
// pattern first in byte order), or false.
func MatchRoute(routes map[string]string, path string) (string, bool) {
	best, found := "", false
	for pat := range routes {
		if ValidateRoutePattern(pat) != nil || !matchRoute(pat, path) {
			continue
		}
		if !found || len(pat) > len(best) || (len(pat) == len(best) && pat < best) {
			best, found = pat, true
		}
	}
	if !found {
		return "", false
	}
	return routes[best], true
}

// ValidateRedirectPattern checks a redirect glob: it starts with '/', every segment holds at
// most one '*' or is a whole '**', at most one '**' in all, no control character or space.
func ValidateRedirectPattern(p string) error {
	if p == "" || len(p) > MaxPathLen || p[0] != '/' || !validHeaderValue(p) || strings.ContainsAny(p, " \t") {
		return fmt.Errorf("%w: redirect %q must start with '/' and hold no control character or space", ErrInvalidPattern, p)
	}
	globstars := 0
	for _, seg := range strings.Split(p, "/") {
		if seg == "**" {
			globstars++
			continue
		}
		if strings.Count(seg, "*") > 1 {
			return fmt.Errorf("%w: redirect %q: segment %q may hold one '*' or be a whole '**'", ErrInvalidPattern, p, seg)
		}
	}
	if globstars > 1 {
		return fmt.Errorf("%w: redirect %q holds %d '**' (at most 1)", ErrInvalidPattern, p, globstars)
	}
	return nil
}

// matchSegment matches one path segment against a glob segment with at most one '*'.
func matchSegment(pat, seg string) bool {
	star := strings.IndexByte(pat, '*')
	if star < 0 {
		return pat == seg
	}
	prefix, suffix := pat[:star], pat[star+1:]
	return len(seg) >= len(prefix)+len(suffix) && strings.HasPrefix(seg, prefix) && strings.HasSuffix(seg, suffix)
}

// matchGlob matches path against a valid redirect glob: without '**' segments line up one to
// one; with it the segments before anchor at the start and those after at the end.
func matchGlob(pattern, path string) bool {
	ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
	g := -1
	for i, s := range ps {
		if s == "**" {
			g = i
			break
		}
	}
	if g < 0 {
		if len(ps) != len(ss) {
			return false
		}
		for i := range ps {
			if !matchSegment(ps[i], ss[i]) {
				return false
			}
		}
		return true
	}
	before, after := ps[:g], ps[g+1:]
	if len(ss) < len(before)+len(after) {
		return false
	}
	for i := range before {
		if !matchSegment(before[i], ss[i]) {
			return false
		}
	}
	tail := len(ss) - len(after)
	for i := range after {
		if !matchSegment(after[i], ss[tail+i]) {
			return false
		}
	}
	return true
}

// globSpecificity orders globs: more literal characters first, then fewer wildcards, then byte
// order. It returns a negative number if a is more specific than b.
func globSpecificity(a, b string) int {
	la, lb := len(a)-strings.Count(a, "*"), len(b)-strings.Count(b, "*")
	if la != lb {
		return lb - la
	}
	wa, wb := strings.Count(a, "*"), strings.Count(b, "*")
	if wa != wb {
		return wa - wb
	}
	return strings.Compare(a, b)
}

// MatchRedirect returns the redirect of the most specific glob that matches path, or false.
func MatchRedirect(redirects map[string]Redirect, path string) (Redirect, bool) {
	best, found := "", false
	for pat := range redirects {
		if ValidateRedirectPattern(pat) != nil || !matchGlob(pat, path) {
			continue
		}
		if !found || globSpecificity(pat, best) < 0 {
			best, found = pat, true
		}
	}
	if !found {
		return Redirect{}, false
	}
	return redirects[best], true
}

// ValidateIgnorePattern checks an ignore pattern of ws-resources.json: a path, optionally
// ending in "/*" or "*" (Walrus allows only a trailing wildcard).
func ValidateIgnorePattern(p string) error {
	if p == "" || p[0] != '/' || len(p) > MaxPathLen || strings.Contains(strings.TrimSuffix(p, "*"), "*") || !validHeaderValue(p) {
		return fmt.Errorf("%w: ignore %q (an absolute path, '*' only at the end)", ErrInvalidPattern, p)
	}
	return nil
}

// ignored reports whether path matches one of the ignore patterns: exactly, or by prefix when
// the pattern ends in '*'.
func ignored(patterns []string, path string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if p == path {
			return true
		}
	}
	return false
}
