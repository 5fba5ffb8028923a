"""The Gradio supervision panel (imports webagent; webagent never imports it, save `webagent ui`)."""
