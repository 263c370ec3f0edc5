// The interop scripts import the AI SDK from here when AI_SDK points at this file: ai 7.x.
export * from "ai";
