package api

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/store"
)

// Conditional requests (CONTRACT.md): every response carrying one task has
// a strong ETag, its version; If-Match makes a change only at that version,
// checked inside the store's write; If-None-Match answers 304 while nothing
// changed.

// etag is a task's ETag.
func etag(t *store.Task) string { return `"` + strconv.FormatInt(t.Version(), 10) + `"` }

// entityTags is an If-Match or If-None-Match value: "*", or a list of tags.
type entityTags struct {
	any  bool
	tags []entityTag
}

type entityTag struct {
	weak   bool
	opaque string // between the quotes
}

// parseEntityTags reads a header value; present is false when the header is
// absent. Malformed members are kept as tags that match nothing.
func parseEntityTags(h string) (t entityTags, present bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return t, false
	}
	if h == "*" {
		return entityTags{any: true}, true
	}
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		weak := strings.HasPrefix(part, "W/")
		part = strings.TrimPrefix(part, "W/")
		if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' {
			part = `"\x00malformed"`
		}
		t.tags = append(t.tags, entityTag{weak: weak, opaque: part[1 : len(part)-1]})
	}
	return t, true
}

// matches compares with tag; strong comparison (If-Match) never matches a
// weak tag, weak comparison (If-None-Match) ignores weakness.
func (t entityTags) matches(tag string, strong bool) bool {
	if t.any {
		return true
	}
	opaque := strings.Trim(tag, `"`)
	return slices.ContainsFunc(t.tags, func(e entityTag) bool { return e.opaque == opaque && !(strong && e.weak) })
}

// versions are the task versions an If-Match names (strong tags of ours).
func (t entityTags) versions() []int64 {
	var out []int64
	for _, e := range t.tags {
		if v, err := strconv.ParseInt(e.opaque, 10, 64); err == nil && !e.weak && v > 0 {
			out = append(out, v)
		}
	}
	return out
}

// ifMatchVersion turns If-Match into the version a change requires: 0 with
// no header or "*" (any existing task), the one version it names, or, for a
// list of tags, the task's current version when the list holds it.
// present reports the header, for a missing task to be a 412, not a 404.
func (a *app) ifMatchVersion(c *fiber.Ctx, id uint64) (version int64, present bool, err error) {
	tags, present := parseEntityTags(c.Get(fiber.HeaderIfMatch))
	if !present || tags.any {
		return 0, present, nil
	}
	vs := tags.versions()
	switch len(vs) {
	case 0:
		return 0, true, store.ErrPreconditionFailed
	case 1:
		return vs[0], true, nil
	}
	t, err := a.store.Get(c.UserContext(), owner(c), id)
	if err != nil {
		return 0, true, preconditionOf(err, true)
	}
	if !slices.Contains(vs, t.Version()) {
		return 0, true, store.ErrPreconditionFailed
	}
	return t.Version(), true, nil
}

// preconditionOf is err of a conditional change: a task that is not there
// does not match If-Match either (412, as RFC 9110 says for "*").
func preconditionOf(err error, ifMatch bool) error {
	if ifMatch && errors.Is(err, store.ErrNotFound) {
		return store.ErrPreconditionFailed
	}
	return err
}

// withCurrentTag is err of a conditional change, with the task's current
// ETag set on a 412 (CONTRACT.md): the client learns the version to retry
// against without another request. A task that is gone has none.
func (a *app) withCurrentTag(c *fiber.Ctx, id uint64, err error) error {
	if errors.Is(err, store.ErrPreconditionFailed) {
		if t, gerr := a.store.Get(c.UserContext(), owner(c), id); gerr == nil {
			c.Set(fiber.HeaderETag, etag(&t))
		}
	}
	return err
}

// deleteIf deletes at version (0: any) with the store's conditional delete.
func (a *app) deleteIf(ctx context.Context, owner string, id uint64, version int64, ifMatch bool) error {
	if !ifMatch {
		return a.store.Delete(ctx, owner, id)
	}
	d, ok := a.store.(store.ConditionalDeleter)
	if !ok {
		return fiber.NewError(fiber.StatusNotImplemented, "This store cannot delete conditionally (If-Match)")
	}
	return preconditionOf(d.DeleteIf(ctx, owner, id, version), true)
}

// notModified answers 304 when If-None-Match matches tag.
func notModified(c *fiber.Ctx, tag string) bool {
	tags, present := parseEntityTags(c.Get(fiber.HeaderIfNoneMatch))
	if !present || !tags.matches(tag, false) {
		return false
	}
	c.Set(fiber.HeaderETag, tag)
	c.Status(fiber.StatusNotModified)
	c.Response().ResetBody()
	return true
}

// listTag is a list's ETag: a hash of what decides the list, each part
// followed by a separator so that (ab, c) and (a, bc) differ.
type listTag struct{ sum uint64 } // FNV-1a, 64 bits

func newListTag(seq uint64, query []byte) listTag {
	t := listTag{sum: 14695981039346656037} // FNV-1a's offset basis
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	t.add(b[:])
	t.add(query)
	return t
}

// add hashes b and a separator (0xff). FNV-1a written out: hash/fnv's
// hasher is an interface value, one allocation per list.
func (t *listTag) add(b []byte) {
	for _, c := range b {
		t.sum = (t.sum ^ uint64(c)) * 1099511628211
	}
	t.sum = (t.sum ^ 0xff) * 1099511628211
}

// addBody hashes a list's body, through its CRC-32C (hardware-computed, 25×
// faster than FNV-1a byte by byte; an overdue page is several kilobytes).
func (t *listTag) addBody(body []byte) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.Checksum(body, castagnoli))
	t.add(b[:])
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (t listTag) String() string { return `"l` + strconv.FormatUint(t.sum, 36) + `"` }
