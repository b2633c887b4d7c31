// The prompt line's own state, pure like the view reducer: the text being typed (pastes may
// bring several lines), and the history of submitted prompts walked with ↑ and ↓.
export const MAX_HISTORY = 200;
export const MAX_PROMPT_CHARS = 256 << 10;

export interface PromptState {
  text: string;
  history: string[];
  /** Position while walking the history: history.length means "the line being typed". */
  index: number;
  /** What was typed before walking the history, restored when walking past the newest entry. */
  draft: string;
}

export type PromptAction =
  | { type: "insert"; text: string }
  | { type: "backspace" }
  | { type: "clear" }
  | { type: "up" }
  | { type: "down" }
  /** Enter: the text moves to the history (the caller sends it). */
  | { type: "submit" };

export const INITIAL_PROMPT: PromptState = { text: "", history: [], index: 0, draft: "" };

export function reducePrompt(state: PromptState, action: PromptAction): PromptState {
  switch (action.type) {
    case "insert": {
      // Pasted text keeps its lines; terminals send \r for Enter inside a paste.
      const text = (state.text + action.text.replace(/\r\n?/g, "\n")).slice(0, MAX_PROMPT_CHARS);
      return { ...state, text, index: state.history.length };
    }
    case "backspace":
      return { ...state, text: [...state.text].slice(0, -1).join("") };
    case "clear":
      return { ...state, text: "", index: state.history.length };
    case "up": {
      if (state.index === 0) return state;
      const draft = state.index === state.history.length ? state.text : state.draft;
      return { ...state, index: state.index - 1, text: state.history[state.index - 1]!, draft };
    }
    case "down": {
      if (state.index >= state.history.length) return state;
      const index = state.index + 1;
      return { ...state, index, text: index === state.history.length ? state.draft : state.history[index]! };
    }
    case "submit": {
      if (state.text.trim() === "") return { ...state, text: "" };
      const history = [...state.history.filter((h) => h !== state.text), state.text].slice(-MAX_HISTORY);
      return { text: "", history, index: history.length, draft: "" };
    }
  }
}
