package plan

import (
	"regexp"
	"sync"
)

var regexpCache sync.Map // pattern → *regexp.Regexp

// compiled returns the compiled pattern; route patterns are constants of
// this package, and a test compiles every one of them.
func compiled(pattern string) *regexp.Regexp {
	if re, ok := regexpCache.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(pattern)
	regexpCache.Store(pattern, re)
	return re
}
