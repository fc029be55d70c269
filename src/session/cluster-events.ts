import { BROADCAST, nodeTopic, type BusMessage } from '../bus/bus.ts';
import { CloseCode } from '../protocol/close-codes.ts';
import { applyDeviceStatus } from './handlers/devices.ts';
import { storeRelayedReceipt } from './handlers/receipts.ts';
import type { Services } from './services.ts';

/**
 * What a node does with a message from another node. Delivery messages go
 * to the delivery service; the rest act on sessions connected here.
 */
export function handleClusterMessage(svc: Services, topic: string, msg: BusMessage): void {
  switch (msg.k) {
    case 'entries':
    case 'push':
    case 'absent':
      svc.delivery.receive(topic, msg);
      return;
    case 'ack': {
      if (topic !== nodeTopic(svc.bus.nodeId)) return;
      svc.delivery.receiveAck(msg.user, msg.device, msg.key);
      const receipt = msg.delivered;
      if (!receipt) return;
      // The sender's devices may have to be read first; a failure costs the receipt, never the message.
      const reading = storeRelayedReceipt(svc, { userId: msg.user, deviceId: msg.device }, receipt);
      reading?.catch((err: unknown) => svc.log.warn('status update dropped: devices unavailable', { err, user: receipt.sender }));
      return;
    }
    case 'kick': {
      // The device connected on another node; the older socket loses (ties go to the higher node id).
      const s = svc.hub.find(topic, msg.device);
      if (s && (s.connectedAt < msg.at || (s.connectedAt === msg.at && svc.bus.nodeId < msg.node))) s.close(CloseCode.connectedElsewhere);
      return;
    }
    case 'disconnect':
      disconnectHere(svc, topic, msg.device);
      return;
    case 'device':
      applyDeviceStatus(svc, topic, msg.device, msg);
      return;
    case 'devices_changed':
      if (topic === BROADCAST) svc.devices.invalidate(msg.user);
      return;
  }
}

/**
 * Closes the user's device (or all of the user's devices) connected to this
 * node with 4410, the operator's kick; returns how many sockets it closed.
 */
export function disconnectHere(svc: Services, user: string, device: string | undefined): number {
  const targets = device === undefined ? [...(svc.hub.devicesOf(user) ?? [])] : [svc.hub.find(user, device)].filter((s) => s !== undefined);
  for (const s of targets) s.close(CloseCode.closedByOperator);
  return targets.length;
}
