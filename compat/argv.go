package compat

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ShownArg is an argument as a one-line message shows it: as typed, or quoted when it holds a
// line break, another control character or bytes that are not UTF-8 (a refusal must stay one
// readable line whatever was typed).
func ShownArg(a string) string {
	if !utf8.ValidString(a) || strings.IndexFunc(a, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(a)
	}
	return a
}

// AllDigits reports whether s is one or more ASCII decimal digits, however many: no sign, no
// blank.
func AllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
