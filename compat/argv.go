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
