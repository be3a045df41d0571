package compat

import (
	"fmt"
	"strings"
)

// This file reads the command lines of Micro Focus Enterprise Server's casstart, casstop, mfds
// and mdump the way the product does, and rewrites them into a form urfave/cli parses.
//
// The legacy grammar (research/legacy-tools.md §5): an option is a slash or a dash and one
// letter, in either case (/W30 is /w30), and its value is glued to it: /rESSERV1, -rESSERV1,
// /w30, /s:c. There is no space after the letter in the product's documentation, but scripts
// written by hand sometimes have one, so a value option with nothing glued takes the next
// argument when that argument does not itself look like an option.

// MFKind is how a legacy option takes its value.
type MFKind int

const (
	// MFBool takes no value: /f, /i. Anything glued after the letter is an error.
	MFBool MFKind = iota
	// MFValue needs a value: /rESSERV1, or /r ESSERV1.
	MFValue
	// MFOptional may have a value: /w alone, or /w30. A separate argument is taken as its value
	// only when it is all digits, so "/w /f" stays two options.
	MFOptional
)

// MFOption is one legacy option a command understands.
type MFOption struct {
	// Letter is the option's letter in lower case.
	Letter byte
	Kind   MFKind
	// Colon strips one ':' in front of the value, as /s:c and /j:SYSIDNT=xxxx are written.
	Colon bool
	// Secret marks a value that must never be shown (/p, the password): RedactMF hides it, and
	// an error about a stray argument right after it does not quote that argument.
	Secret bool
}

// MFSpec is what one command understands. Everything else that looks like an option (a slash or
// dash form with another letter, or a long option not listed) is passed through untouched, for
// the real product's binary; see NormalizeMF.
type MFSpec struct {
	Options []MFOption
	// Long lists the long options (without "--") that take a value, such as "config"; list
	// PassFlag too, so that an explicit --pass is not passed through inside another.
	Long []string
	// Operands is how many operands the command takes at most (mdump: host and region).
	Operands int
	// SecretOperand is the position (from 1) of the operand that is a password, 0 for none
	// (mfds -s 2 user password): it and what follows it are never quoted in an error.
	SecretOperand int
}

func (s MFSpec) option(letter byte) (MFOption, bool) {
	for _, o := range s.Options {
		if o.Letter == letter {
			return o, true
		}
	}
	return MFOption{}, false
}

func (s MFSpec) long(name string) bool {
	for _, l := range s.Long {
		if l == name {
			return true
		}
	}
	return false
}

// secretLong reports whether a is a long option ("--x...") that is not one of the command's
// and may hold a password: one that begins with the letter of a Secret option (--p=SECRET,
// --pSECRET, --password=SECRET are a password written the wrong way), or whose name says
// pass or pwd. The whole argument may be the secret: it is refused without being shown, and
// never handed on to the product (whose notices would show it).
func (s MFSpec) secretLong(a string) bool {
	if !strings.HasPrefix(a, "--") || len(a) < 3 {
		return false
	}
	name, _, _ := strings.Cut(a[2:], "=")
	if s.long(name) {
		return false
	}
	if low := strings.ToLower(name); strings.Contains(low, "pass") || strings.Contains(low, "pwd") {
		return true
	}
	o, ok := s.option(lower(a[2]))
	return ok && o.Secret
}

// secretish reports whether a looks like the option of a password: a Secret letter alone
// (/p, -P), or a secretLong argument.
func (s MFSpec) secretish(a string) bool {
	if len(a) == 2 && looksLikeOption(a) {
		o, ok := s.option(lower(a[1]))
		return ok && o.Secret
	}
	return s.secretLong(a)
}

// errSecretLong is the refusal of a secretLong argument: its first letter, never more.
func (s MFSpec) errSecretLong(a string) error {
	for _, o := range s.Options {
		if o.Secret {
			return fmt.Errorf("option --%s... is not an option here: a password is written /%cpassword or -%cpassword (the argument is not shown)", ShownArg(a[2:3]), o.Letter, o.Letter)
		}
	}
	return fmt.Errorf("option --%s... may hold a password and is not an option here (the argument is not shown)", ShownArg(a[2:3]))
}

// PassFlag is the long option NormalizeMF writes each passed-through argument under.
const PassFlag = "pass"

// NormalizeMF rewrites a legacy command line (without the command name) into the form the
// command's urfave/cli App parses:
//
//   - a known option becomes "-x" (MFBool) or "-x=value"; an MFOptional option written alone
//     becomes "-x=" (empty: the command's default);
//   - a listed long option becomes "--name=value"; "--help" and "--version" stay as they are;
//   - any other option, in slash, dash or double-dash form, becomes "--pass=<argument as
//     given>", so the real product gets it unchanged, and so do the plain words right after it
//     (only the product knows how many values its options take: mfds -g 5 file O);
//   - operands follow a "--", in their order.
//
// "--" ends the options: what follows is operands. Errors name the option as the user wrote its
// letter, never a value: a value may be a password.
func NormalizeMF(args []string, spec MFSpec) ([]string, error) {
	var opts, operands []string
	// afterSecret is true while the argument before is a secret option: a stray word there is
	// probably the rest of a password with a blank in it.
	afterSecret, strayAfterSecret := false, false
	// passing is true after an option passed through: only the product knows how many words
	// it takes (mfds -g 5 file O), so the plain words after it go along with it.
	passing := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		prevSecret := afterSecret
		afterSecret = false
		if looksLikeOption(a) {
			passing = false
		}
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			i = len(args)
		case a == "--help" || a == "--version":
			opts = append(opts, a)
		case spec.secretLong(a):
			return nil, spec.errSecretLong(a)
		case strings.HasPrefix(a, "--"):
			name, value, glued := strings.Cut(a[2:], "=")
			if !spec.long(name) {
				opts = append(opts, "--"+PassFlag+"="+a)
				passing = true
				continue
			}
			if !glued {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("--%s needs a value", ShownArg(name))
				}
				i++
				value = args[i]
			}
			if name == PassFlag && spec.secretLong(value) {
				return nil, spec.errSecretLong(value)
			}
			opts = append(opts, "--"+name+"="+value)
		case a == "/" || a == "-":
			return nil, fmt.Errorf("%q alone is not an option: write the letter right after it, as in /rESSERV1", a)
		case looksLikeOption(a):
			o, known := spec.option(lower(a[1]))
			if !known {
				opts = append(opts, "--"+PassFlag+"="+a)
				passing = true
				continue
			}
			afterSecret = o.Secret
			flag := a[:2]
			value := a[2:]
			if o.Colon {
				value = strings.TrimPrefix(value, ":")
			}
			switch o.Kind {
			case MFBool:
				if value != "" {
					return nil, fmt.Errorf("option %s takes no value", ShownArg(flag))
				}
				opts = append(opts, "-"+string(o.Letter))
				continue
			case MFValue:
				if value == "" {
					if i+1 >= len(args) || looksLikeOption(args[i+1]) {
						return nil, fmt.Errorf("option %s needs a value: write it right after the letter, as in %s%s", ShownArg(flag), ShownArg(flag), example(o.Letter))
					}
					i++
					value = args[i]
				}
			case MFOptional:
				if value == "" && i+1 < len(args) && AllDigits(args[i+1]) {
					i++
					value = args[i]
				}
			}
			opts = append(opts, "-"+string(o.Letter)+"="+value)
		case passing:
			opts = append(opts, "--"+PassFlag+"="+a)
		default:
			// After a password, or what looks like a password option even when another option
			// took it as its value (--config -p SECRET), a stray word may be the password.
			if len(operands) == spec.Operands && (prevSecret || (i > 0 && spec.secretish(args[i-1]))) {
				strayAfterSecret = true
			}
			operands = append(operands, a)
		}
	}
	if len(operands) > spec.Operands {
		if strayAfterSecret {
			return nil, fmt.Errorf("unexpected argument after the password option (not shown): quote a password that contains blanks")
		}
		if spec.SecretOperand > 0 {
			// The extra operands follow the password: they may be the rest of it.
			return nil, fmt.Errorf("unexpected argument after the password (not shown): quote a password that contains blanks")
		}
		if spec.Operands == 0 {
			return nil, fmt.Errorf("unexpected argument %q: options are written /x or -x with their value glued, as in /rESSERV1", operands[0])
		}
		return nil, fmt.Errorf("unexpected argument %q: at most %d operands", operands[spec.Operands], spec.Operands)
	}
	out := append(opts, "--")
	return append(out, operands...), nil
}

// RedactMF returns args with the value of every Secret option of spec replaced by "****", for
// log lines that show a legacy command line: /pSECRET becomes /p****, and with "/p SECRET" the
// separate argument becomes ****. The number of arguments is kept.
func RedactMF(args []string, spec MFSpec) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || (a[0] != '/' && a[0] != '-') || a[1] == '-' {
			continue
		}
		o, ok := spec.option(lower(a[1]))
		if !ok || !o.Secret {
			continue
		}
		if len(a) > 2 {
			out[i] = a[:2] + "****"
			continue
		}
		// A separate value: NormalizeMF takes the next argument when it is not an option.
		if o.Kind == MFValue && i+1 < len(out) && !looksLikeOption(out[i+1]) {
			out[i+1] = "****"
			i++
		}
	}
	return out
}

// looksLikeOption reports whether a may be an option rather than the value of the one before it.
func looksLikeOption(a string) bool {
	return len(a) >= 2 && (a[0] == '/' || a[0] == '-')
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// example is a sample value for an error message; never the user's value.
func example(letter byte) string {
	switch letter {
	case 'r':
		return "ESSERV1"
	case 'w':
		return "30"
	case 's':
		return ":c"
	case 'u':
		return "user"
	case 'p':
		return "password"
	case 'c':
		return "group"
	}
	return "value"
}
