package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxKidLen bounds the kid: Better Auth's are 32 characters. A longer one is
// refused before it can cost a key set refetch.
const maxKidLen = 256

// checkStructure refuses what golang-jwt would let through but no honest
// issuer sends: duplicate keys in the header or the claims (parsers disagree
// on which one wins), a "crit" header (we implement no extensions, so RFC
// 7515 says reject), and an oversized kid. Key-location headers (jku, x5u,
// jwk, x5c) need no check: keys come only from our configuration, never from
// the token.
func checkStructure(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not three parts")
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if err := noDuplicateKeys(header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(header, &h); err != nil {
		return errors.New("header is not a JSON object")
	}
	if _, ok := h["crit"]; ok {
		return errors.New(`"crit" header: no extensions are supported`)
	}
	if kid, ok := h["kid"]; ok && len(kid) > maxKidLen {
		return errors.New("kid too long")
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if err := noDuplicateKeys(payload); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}

func decodeSegment(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	return b, nil
}

// noDuplicateKeys reports a key that appears twice in any object of doc.
func noDuplicateKeys(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // in an object, the next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			if len(stack) == 0 && err == io.EOF {
				return nil
			}
			return errors.New("not JSON")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return fmt.Errorf("duplicate key %q", key)
				}
				top.keys[key] = true
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a key comes next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}
