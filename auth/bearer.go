package auth

import "strings"

// ParseBearer extracts the token from an Authorization header value. The
// scheme is case-insensitive; the token is what follows the first run of
// spaces. ok is false when there is no Bearer token at all.
func ParseBearer(header string) (token string, ok bool) {
	header = strings.TrimSpace(header)
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	return token, token != ""
}
