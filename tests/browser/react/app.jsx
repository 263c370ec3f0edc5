// A chat page as a React app written against the AI SDK would be, unchanged: useChat from
// @ai-sdk/react with its default transport, pointed at a ChatStreamView. The query string picks
// the endpoint (?api=/chat-exempt/ or a resumable one) and the chat id (?id=...).
import { useChat } from "@ai-sdk/react";
import {
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  lastAssistantMessageIsCompleteWithToolCalls,
} from "ai";
import { useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(location.search);
const api = query.get("api") ?? "/chat-exempt/";
const resume = query.has("resume");

function Part({ part, approve }) {
  if (part.type === "text") return <p className="text">{part.text}</p>;
  if (!part.type.startsWith("tool-")) return null;
  return (
    <div className="tool" data-tool={part.type.slice(5)} data-state={part.state}>
      <span className="tool-name">{part.title ?? part.type.slice(5)}</span>{" "}
      <span className="tool-state">{part.state}</span>
      {part.state === "approval-requested" && (
        <>
          <button type="button" onClick={() => approve(part.approval.id, true)}>
            Approve
          </button>
          <button type="button" onClick={() => approve(part.approval.id, false)}>
            Deny
          </button>
        </>
      )}
    </div>
  );
}

function App() {
  const [input, setInput] = useState("");
  const { messages, sendMessage, status, stop, addToolApprovalResponse, addToolOutput } = useChat(
    {
      id: query.get("id") ?? undefined,
      resume,
      transport: new DefaultChatTransport({ api }),
      sendAutomaticallyWhen: (options) =>
        lastAssistantMessageIsCompleteWithApprovalResponses(options) ||
        lastAssistantMessageIsCompleteWithToolCalls(options),
      onToolCall: ({ toolCall }) => {
        if (toolCall.toolName === "local_time") {
          addToolOutput({
            tool: "local_time",
            toolCallId: toolCall.toolCallId,
            output: { time: "12:34" },
          });
        }
      },
    },
  );
  const approve = (id, approved) => addToolApprovalResponse({ id, approved });
  return (
    <main data-status={status}>
      {messages.map((message) => (
        <article key={message.id} className={message.role}>
          {message.parts.map((part, index) => (
            <Part key={index} part={part} approve={approve} />
          ))}
        </article>
      ))}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          sendMessage({ text: input });
          setInput("");
        }}
      >
        <input aria-label="Message" value={input} onChange={(e) => setInput(e.target.value)} />
        <button type="submit">Send</button>
        <button type="button" onClick={() => stop()}>
          Stop
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
