package bolt

import (
	"slices"
	"testing"
	"time"

	"taskbolt/store"
)

// FuzzTextFields: the fast reader of a stored task's title, description and
// tags agrees with encoding/json on any task AppendJSON writes.
func FuzzTextFields(f *testing.F) {
	f.Add("buy milk", "2 litres", true, "home", "Work", `u"ser`)
	f.Add(`a","title":"x`, "", false, `t\"`, "\u2028", "x,y")
	f.Add("\x00\n\"\\", "\xff", true, "ß", "", "k")
	f.Fuzz(func(t *testing.T, title, desc string, hasDesc bool, tag1, tag2, user string) {
		task := store.Task{ID: 7, UserID: user, Title: title, Tags: []string{tag1, tag2}, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(2, 0)}
		if hasDesc {
			task.Description = &desc
		}
		js := task.AppendJSON(nil)
		var want store.Task
		if err := want.UnmarshalJSON(js); err != nil {
			t.Fatal(err)
		}
		gotTitle, gotDesc, gotTags, err := textFields(js)
		if err != nil || gotTitle != want.Title || (gotDesc == nil) != (want.Description == nil) ||
			(gotDesc != nil && *gotDesc != *want.Description) || !slices.Equal(gotTags, want.Tags) {
			t.Fatalf("%s: got %q %v %q %v, want %q %v %q", js, gotTitle, gotDesc, gotTags, err, want.Title, want.Description, want.Tags)
		}
	})
}
