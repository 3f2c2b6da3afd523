// A one-shot message carried across a route change ("Saved version 3").

let message = null;

export function setFlash(text) {
  message = text;
}

export function takeFlash() {
  const text = message;
  message = null;
  return text;
}
