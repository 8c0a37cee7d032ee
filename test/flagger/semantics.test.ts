import { flaggerSemanticsScenarios } from "../scenarios/flagger-semantics";
import { onServer } from "@k6-gate/testkit/redis-under-test";
import { useStack } from "@k6-gate/testkit/use-stack";

const stack = useStack({ api: false, workers: 0 });
flaggerSemanticsScenarios(() => onServer(stack.redis));
