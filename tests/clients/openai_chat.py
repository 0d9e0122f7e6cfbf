"""Runs the official `openai` Python client against Tollway, unchanged.

Usage: OPENAI_BASE_URL=http://host:port/v1 OPENAI_API_KEY=tw_... python3 openai_chat.py MODEL
Prints one JSON line per call: what the client saw (text, usage, finish).
"""
import json
import sys

from openai import OpenAI

model = sys.argv[1]
client = OpenAI()  # base URL and key from the environment, as any user would
messages = [{"role": "user", "content": "What is the capital of France?"}]

whole = client.chat.completions.create(model=model, messages=messages, max_tokens=24)
print(json.dumps({
    "mode": "whole",
    "text": whole.choices[0].message.content,
    "finish": whole.choices[0].finish_reason,
    "prompt_tokens": whole.usage.prompt_tokens,
    "completion_tokens": whole.usage.completion_tokens,
}))

text, finish, usage, chunks = "", None, None, 0
stream = client.chat.completions.create(
    model=model, messages=messages, max_tokens=24, stream=True, stream_options={"include_usage": True}
)
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            text += choice.delta.content
            chunks += 1
        if choice.finish_reason:
            finish = choice.finish_reason
print(json.dumps({
    "mode": "stream",
    "text": text,
    "finish": finish,
    "chunks": chunks,
    "prompt_tokens": usage.prompt_tokens,
    "completion_tokens": usage.completion_tokens,
}))
