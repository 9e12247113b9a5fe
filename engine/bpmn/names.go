package bpmn

// isFlowNode reports whether name is a BPMN element that can appear as a node inside a process or
// sub-process; the lookups below are switch statements so the package holds no mutable state.
func isFlowNode(name string) bool {
	switch name {
	case "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "task",
		"serviceTask", "userTask", "manualTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
		"callActivity", "subProcess", "adHocSubProcess", "transaction", "exclusiveGateway", "parallelGateway",
		"inclusiveGateway", "eventBasedGateway", "complexGateway", "callChoreography", "choreographyTask",
		"subChoreography", "implicitThrowEvent":
		return true
	}
	return false
}

// isContainer reports whether name is one of the flow nodes that hold their own flow elements.
func isContainer(name string) bool {
	switch name {
	case "subProcess", "adHocSubProcess", "transaction":
		return true
	}
	return false
}

// isScopeIgnored reports whether name is a legal child of a process or sub-process that carries no
// execution semantics (artifacts, data, documentation).
func isScopeIgnored(name string) bool {
	switch name {
	case "documentation", "extensionElements", "laneSet", "textAnnotation", "association", "group",
		"dataObject", "dataObjectReference", "dataStoreReference", "property", "ioSpecification", "ioBinding",
		"correlationSubscription", "auditing", "monitoring", "supports", "artifact", "performer", "humanPerformer",
		"potentialOwner", "resourceRole", "completionCondition", "multiInstanceLoopCharacteristics",
		"standardLoopCharacteristics", "incoming", "outgoing":
		return true
	}
	return false
}

// isElementIgnored reports whether name is a legal child of a flow node that carries no execution
// semantics here.
func isElementIgnored(name string) bool {
	switch name {
	case "documentation", "ioSpecification", "dataInputAssociation", "dataOutputAssociation", "property",
		"performer", "humanPerformer", "potentialOwner", "resourceRole", "rendering", "auditing", "monitoring",
		"dataInput", "dataOutput", "inputSet", "outputSet", "conditionExpression", "completionCondition",
		"ioBinding", "laneSet", "textAnnotation", "association", "group", "dataObject", "dataObjectReference",
		"dataStoreReference", "loopCardinality", "activationCondition", "correlationSubscription",
		"participantRef", "messageFlowRef":
		return true
	}
	return false
}

// isRootElement reports whether name is a legal child of definitions other than process, collaboration,
// message and error.
func isRootElement(name string) bool {
	switch name {
	case "import", "extension", "documentation", "extensionElements", "relationship", "signal", "escalation",
		"itemDefinition", "dataStore", "interface", "resource", "category", "correlationProperty", "endPoint",
		"partnerEntity", "partnerRole", "globalTask", "globalUserTask", "globalScriptTask", "globalManualTask",
		"globalBusinessRuleTask", "choreography", "globalConversation", "eventDefinition",
		"messageEventDefinition", "timerEventDefinition", "errorEventDefinition", "signalEventDefinition",
		"escalationEventDefinition", "conditionalEventDefinition", "compensateEventDefinition",
		"cancelEventDefinition", "terminateEventDefinition", "linkEventDefinition":
		return true
	}
	return false
}

// isKnownBPMN reports whether name is an element of the BPMN 2.0 model schema, to tell "not allowed
// here" from "not BPMN at all" in error messages.
func isKnownBPMN(name string) bool {
	switch name {
	case "definitions", "import", "extension", "extensionElements", "documentation", "process", "collaboration",
		"participant", "participantMultiplicity", "messageFlow", "conversation", "subConversation",
		"callConversation", "conversationLink", "laneSet", "lane", "childLaneSet", "flowNodeRef",
		"partitionElement", "sequenceFlow", "conditionExpression", "startEvent", "endEvent",
		"intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "implicitThrowEvent", "task",
		"serviceTask", "userTask", "manualTask", "scriptTask", "script", "businessRuleTask", "sendTask",
		"receiveTask", "callActivity", "subProcess", "adHocSubProcess", "transaction", "exclusiveGateway",
		"parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway", "activationCondition",
		"incoming", "outgoing", "messageEventDefinition", "timerEventDefinition", "timeDate", "timeDuration",
		"timeCycle", "errorEventDefinition", "escalationEventDefinition", "signalEventDefinition",
		"conditionalEventDefinition", "condition", "compensateEventDefinition", "cancelEventDefinition",
		"terminateEventDefinition", "linkEventDefinition", "eventDefinition", "eventDefinitionRef", "source",
		"target", "message", "error", "escalation", "signal", "itemDefinition", "interface", "operation",
		"inMessageRef", "outMessageRef", "errorRef", "dataObject", "dataObjectReference", "dataStore",
		"dataStoreReference", "dataInput", "dataOutput", "dataInputAssociation", "dataOutputAssociation",
		"sourceRef", "targetRef", "transformation", "assignment", "from", "to", "ioSpecification", "inputSet",
		"outputSet", "dataInputRefs", "dataOutputRefs", "optionalInputRefs", "optionalOutputRefs",
		"whileExecutingInputRefs", "whileExecutingOutputRefs", "outputSetRefs", "inputSetRefs", "property",
		"textAnnotation", "text", "association", "group", "category", "categoryValue",
		"multiInstanceLoopCharacteristics", "standardLoopCharacteristics", "loopCardinality", "loopDataInputRef",
		"loopDataOutputRef", "inputDataItem", "outputDataItem", "completionCondition", "complexBehaviorDefinition",
		"loopCondition", "resourceRole", "performer", "humanPerformer", "potentialOwner",
		"resourceAssignmentExpression", "resourceParameterBinding", "resourceRef", "resource", "resourceParameter",
		"formalExpression", "expression", "rendering", "correlationKey", "correlationProperty",
		"correlationPropertyRef", "correlationPropertyRetrievalExpression", "messagePath",
		"correlationSubscription", "correlationPropertyBinding", "dataPath", "globalTask", "globalUserTask",
		"globalScriptTask", "globalManualTask", "globalBusinessRuleTask", "globalConversation", "participantRef",
		"messageFlowRef", "choreography", "choreographyTask", "subChoreography", "callChoreography",
		"initiatingParticipantRef", "innerParticipantRef", "outerParticipantRef", "partnerEntity", "partnerRole",
		"endPoint", "supportedInterfaceRef", "interfaceRef", "extensionAttributeDefinition", "extensionDefinition",
		"relationship", "auditing", "monitoring", "supports", "ioBinding", "dataState", "artifact",
		"categoryValueRef", "correlationKeyRef", "conversationNode", "messageRef", "signalRef", "escalationRef":
		return true
	}
	return false
}
