package agent

import (
	"encoding/json"
	"strconv"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/taskbolt/taskbolt/store"
)

// EstimateTokens estimates a text's tokens as a quarter of its bytes (about
// what English takes with OpenAI's tokenizers, and more than most other
// text), plus a few for the message around it: a bound to keep a request
// in a model's context, not a bill.
func EstimateTokens(text string) int { return len(text)/4 + 4 }

// Window turns the stored conversation into the model's messages, keeping
// the newest turns that fit in budget tokens: whole turns (a user message
// and what answered it) are dropped, oldest first, and the last message is
// always kept. An assistant message that called tools is sent as the calls,
// their results, then its words, so the model sees what it did.
func Window(history []store.Message, budget int) []openai.ChatCompletionMessageParamUnion {
	start, used := len(history), 0
	for i := len(history) - 1; i >= 0; i-- {
		used += EstimateTokens(history[i].Content) + len(history[i].ToolCalls)/4
		if used > budget && i < len(history)-1 {
			break
		}
		if history[i].Role == store.RoleUser {
			start = i // a turn begins at its user message
		}
	}
	if start == len(history) && len(history) > 0 {
		start = len(history) - 1
	}
	var out []openai.ChatCompletionMessageParamUnion
	for _, m := range history[start:] {
		if m.Role == store.RoleUser {
			out = append(out, openai.UserMessage(m.Content))
			continue
		}
		var calls []ToolCall
		json.Unmarshal(m.ToolCalls, &calls) // a record this package wrote
		if len(calls) > 0 {
			asst := openai.ChatCompletionAssistantMessageParam{}
			for i, c := range calls {
				asst.ToolCalls = append(asst.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID:       callID(m.ID, i),
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: c.Name, Arguments: string(c.Arguments)},
					}})
			}
			out = append(out, openai.ChatCompletionMessageParamUnion{OfAssistant: &asst})
			for i, c := range calls {
				out = append(out, openai.ToolMessage(string(c.Result), callID(m.ID, i)))
			}
		}
		out = append(out, openai.ChatCompletionMessageParamUnion{OfAssistant: &openai.ChatCompletionAssistantMessageParam{
			Content: openai.ChatCompletionAssistantMessageParamContentUnion{OfString: param.NewOpt(m.Content)}}})
	}
	return out
}

// callID names a stored tool call for the model: the stored message and
// the call's place in it.
func callID(message uint64, i int) string {
	return "call_" + strconv.FormatUint(message, 10) + "_" + strconv.Itoa(i)
}
