from webagent.cli import app

app()
