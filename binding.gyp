{
  "targets": [
    {
      "target_name": "thread_priority",
      "sources": ["native/thread-priority.c"]
    }
  ]
}
